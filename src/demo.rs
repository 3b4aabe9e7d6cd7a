//! `callem demo`: a project "Demo" with a few thousand realistic calls and about twenty
//! knowledge items, and a demo owner to sign in with. Running it again refreshes the data.

use chrono::{Duration, NaiveDateTime};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::db::models::{Call, KnowledgeItem};
use crate::domain::calls::CallStatus;
use crate::domain::ids::{CallId, KnowledgeId, ProjectId};

pub const PROJECT_NAME: &str = "Demo";
pub const USER_EMAIL: &str = "demo@callem.local";
pub const CALLS: usize = 3000;

struct Scenario {
    summary: &'static str,
    turns: &'static [(&'static str, &'static str)],
    fields: fn(&mut StdRng) -> serde_json::Value,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        summary: "The caller booked a consultation for next Tuesday at 10:00.",
        turns: &[
            ("assistant", "Hello, you've reached Northwind Dental. How can I help you today?"),
            ("user", "Hi, I'd like to book a check-up, ideally next week."),
            ("assistant", "Of course. I have Tuesday at 10:00 or Thursday at 15:30. Which suits you?"),
            ("user", "Tuesday at ten is perfect."),
            ("assistant", "Done: Tuesday at 10:00 with Dr. Patel. You'll get a text confirmation shortly."),
            ("user", "Great, thank you!"),
        ],
        fields: |r| json!({"sentiment": "positive", "appointmentBooked": true, "leadQuality": if r.gen_bool(0.5) { "hot" } else { "warm" }, "slot": "Tuesday 10:00"}),
    },
    Scenario {
        summary: "L'appelant voulait connaître les délais de livraison à Lyon.",
        turns: &[
            ("assistant", "Bonjour, vous êtes bien chez Maison Lumière. Que puis-je faire pour vous ?"),
            ("user", "Bonjour, vous livrez à Lyon ? Et en combien de temps ?"),
            ("assistant", "Oui, nous livrons à Lyon en 48 heures ouvrées, gratuitement dès 60 euros d'achat."),
            ("user", "Parfait. Et pour un retour ?"),
            ("assistant", "Vous disposez de 30 jours pour nous retourner un article, le retour est gratuit."),
            ("user", "Très bien, merci beaucoup."),
        ],
        fields: |r| json!({"sentiment": "neutral", "language": "fr", "topic": "delivery", "orderIntent": r.gen_bool(0.5)}),
    },
    Scenario {
        summary: "The caller was unhappy about a late refund and asked for a supervisor.",
        turns: &[
            ("assistant", "Thanks for calling Acme Support. What can I do for you?"),
            ("user", "I returned a jacket three weeks ago and I still haven't been refunded."),
            ("assistant", "I'm sorry about that. Could you give me your order number?"),
            ("user", "It's A-48213. This is the second time I'm calling."),
            ("assistant", "I see the return was received on the 12th. I'm escalating it so the refund is issued within 48 hours."),
            ("user", "I'd like to speak to a supervisor, please."),
            ("assistant", "Understood, I've requested a callback from a supervisor today."),
        ],
        fields: |_| json!({"sentiment": "negative", "escalated": true, "topic": "refund", "orderNumber": "A-48213"}),
    },
    Scenario {
        summary: "Rappel pour un devis : le prospect souhaite une démonstration la semaine prochaine.",
        turns: &[
            ("assistant", "Bonjour, ici l'assistante de Solaris Énergie, je vous rappelle au sujet de votre demande de devis."),
            ("user", "Ah oui, bonjour. On réfléchit à des panneaux pour l'entrepôt."),
            ("assistant", "Quelle est la surface de toiture disponible, environ ?"),
            ("user", "À peu près 800 mètres carrés."),
            ("assistant", "Très bien. Je peux vous proposer une démonstration avec un technicien jeudi prochain à 14 heures."),
            ("user", "Jeudi 14 heures, ça me va."),
        ],
        fields: |r| json!({"sentiment": "positive", "language": "fr", "leadQuality": "hot", "roofArea": 800, "appointmentBooked": true, "budgetKnown": r.gen_bool(0.3)}),
    },
    Scenario {
        summary: "The caller wanted the opening hours and hung up.",
        turns: &[
            ("assistant", "Hello, Riverside Pharmacy, how can I help?"),
            ("user", "What time do you close today?"),
            ("assistant", "We're open until 8 pm today, and from 9 am to 1 pm on Sunday."),
            ("user", "Okay, thanks."),
        ],
        fields: |_| json!({"sentiment": "neutral", "topic": "opening hours"}),
    },
    Scenario {
        summary: "Wrong number: the caller was looking for another business.",
        turns: &[
            ("assistant", "Good afternoon, Harbor Insurance, how may I help you?"),
            ("user", "Oh, is this not the garage on Market Street?"),
            ("assistant", "I'm afraid not, this is Harbor Insurance. Have a good day!"),
        ],
        fields: |_| json!({"sentiment": "neutral", "wrongNumber": true}),
    },
];

const ENDED: [&str; 4] = [
    "user_hangup",
    "assistant_hangup",
    "silence_timeout",
    "transfer",
];

fn phone(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.55) {
        format!(
            "+33{}{:08}",
            [6, 7, 1][rng.gen_range(0..3)],
            rng.gen_range(0..100_000_000)
        )
    } else {
        format!(
            "+1{}{:07}",
            [415, 212, 646, 312][rng.gen_range(0..4)],
            rng.gen_range(0..10_000_000)
        )
    }
}

/// `count` calls of the last 30 days before `now`, for `project_id`.
pub fn calls(project_id: &ProjectId, count: usize, now: NaiveDateTime, seed: u64) -> Vec<Call> {
    let mut rng = StdRng::seed_from_u64(seed);
    let lines = [phone(&mut rng), phone(&mut rng), phone(&mut rng)];
    (0..count)
        .map(|_| {
            let s = SCENARIOS.choose(&mut rng).unwrap_or(&SCENARIOS[0]);
            let live = rng.gen_bool(0.02);
            let take = if live {
                rng.gen_range(1..s.turns.len())
            } else {
                s.turns.len()
            };
            let transcript: Vec<_> = s.turns[..take]
                .iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect();
            let created = now - Duration::seconds(rng.gen_range(60..30 * 86_400));
            let duration = (take as f64) * rng.gen_range(9.0..28.0_f64);
            let evaluation = match rng.gen_range(0..10) {
                0..=5 => Some("success"),
                6..=7 => Some("fail"),
                _ => None,
            };
            Call {
                id: CallId::generate(),
                project_id: project_id.clone(),
                status: if live {
                    CallStatus::Live
                } else {
                    CallStatus::Completed
                },
                duration: duration.round(),
                summary: (!live).then(|| s.summary.to_owned()),
                evaluation: if live {
                    None
                } else {
                    evaluation.map(str::to_owned)
                },
                ended_reason: (!live)
                    .then(|| ENDED.choose(&mut rng).unwrap_or(&ENDED[0]).to_string()),
                caller_number: Some(phone(&mut rng)),
                called_number: Some(lines.choose(&mut rng).cloned().unwrap_or_default()),
                is_engaged: take >= 4,
                call_analysis: (s.fields)(&mut rng).to_string(),
                transcript: serde_json::Value::Array(transcript).to_string(),
                created_at: created,
                updated_at: created + Duration::seconds(duration as i64),
            }
        })
        .collect()
}

const TOPICS: [(&str, &str); 20] = [
    (
        "Refund policy",
        "When and how customers get their money back",
    ),
    (
        "Opening hours",
        "Hours of every location, holidays included",
    ),
    ("Delivery zones", "Where we deliver and how long it takes"),
    ("Politique de retour", "Retours et échanges en France"),
    ("Appointment rules", "Booking, rescheduling and no-shows"),
    ("Pricing 2026", "Plans, discounts and what each includes"),
    ("Escalation matrix", "Who to transfer to, and when"),
    ("GDPR requests", "Handling access and deletion requests"),
    ("Warranty", "What the two-year warranty covers"),
    ("Payment methods", "Cards, transfers and instalments"),
    ("Horaires d'ouverture", "Horaires des magasins en France"),
    ("Product catalogue", "The main product lines in brief"),
    ("Cancellation", "Cancelling orders and subscriptions"),
    ("Greeting script", "How the agent opens a call"),
    ("Voicemail policy", "What to do when nobody answers"),
    (
        "Insurance partners",
        "Accepted insurers and coverage checks",
    ),
    ("Parking and access", "Getting to our offices"),
    ("Accessibility", "Step-free access and assistance"),
    ("Loyalty programme", "Points, tiers and rewards"),
    ("FAQ", "The twenty questions callers ask most"),
];

/// About twenty knowledge items in Markdown, with `## ` sections.
pub fn knowledge(project_id: &ProjectId, now: NaiveDateTime) -> Vec<KnowledgeItem> {
    TOPICS
        .iter()
        .enumerate()
        .map(|(i, (name, description))| KnowledgeItem {
            id: KnowledgeId::generate(),
            project_id: project_id.clone(),
            name: (*name).to_owned(),
            description: Some((*description).to_owned()),
            text: format!(
                "## Overview\n{description}. This item is part of the demo project.\n\n\
                 ## What the agent says\n- Confirm the caller's request in one sentence.\n\
                 - Give the answer below, then offer **one** next step.\n\n\
                 ## Details\n| Case | Answer |\n|---|---|\n| Standard | Within 30 days |\n\
                 | Premium | Within 60 days |\n\n\
                 ## Escalate when\nThe caller asks twice, is upset, or mentions a legal matter.\n"
            ),
            created_at: now - Duration::hours((i as i64) * 7 + 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_calls_are_varied_and_valid() {
        let now = crate::time::now();
        let project = ProjectId::generate();
        let calls = calls(&project, 500, now, 7);
        assert_eq!(calls.len(), 500);
        assert!(calls.iter().any(|c| c.status == CallStatus::Live));
        assert!(calls
            .iter()
            .any(|c| c.evaluation.as_deref() == Some("fail")));
        assert!(calls.iter().any(|c| c
            .caller_number
            .as_deref()
            .is_some_and(|n| n.starts_with("+33"))));
        assert!(calls.iter().any(|c| c
            .caller_number
            .as_deref()
            .is_some_and(|n| n.starts_with("+1"))));
        for c in &calls {
            let v: serde_json::Value = serde_json::from_str(&c.transcript).unwrap();
            let line = json!({
                "status": c.status, "duration": c.duration, "transcript": v,
                "callAnalysis": serde_json::from_str::<serde_json::Value>(&c.call_analysis).unwrap()
            });
            assert!(crate::import::line::parse(&line.to_string()).is_ok());
            assert!(c.created_at < now);
        }
        assert_eq!(knowledge(&project, now).len(), 20);
    }
}
