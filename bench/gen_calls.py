#!/usr/bin/env python3
"""Writes N realistic calls as JSON Lines (about 2 KB of transcript each) to stdout."""
import json
import random
import sys
from datetime import datetime, timedelta, timezone

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rng = random.Random(42)
start = datetime(2025, 1, 1, tzinfo=timezone.utc)
assistant = ["Bonjour, vous êtes bien chez Acme, comment puis-je vous aider ?",
             "I can book that appointment for you. Which day suits you best?",
             "Let me check the availability in our calendar for next week.",
             "Parfait, je vous envoie une confirmation par SMS dans quelques instants."]
user = ["Yes, I'd like to reschedule my appointment to Thursday afternoon if possible.",
        "Je voudrais savoir si vous livrez à Lyon et quels sont les délais.",
        "Could you tell me what the cancellation policy is for the premium plan?",
        "D'accord, merci beaucoup pour votre aide, bonne journée."]
out = sys.stdout
for i in range(n):
    turns, size = [], 0
    while size < 2000:
        role = "assistant" if len(turns) % 2 == 0 else "user"
        content = rng.choice(assistant if role == "assistant" else user)
        turns.append({"role": role, "content": content})
        size += len(content) + 30
    created = start + timedelta(seconds=i * 37)
    call = {
        "status": "completed" if rng.random() < 0.97 else "live",
        "duration": rng.randint(5, 900),
        "summary": "Caller asked about an appointment; the agent booked a slot.",
        "evaluation": rng.choice(["success", "fail", None]),
        "endedReason": rng.choice(["user_hangup", "assistant_hangup", "silence_timeout"]),
        "callerNumber": "+336%08d" % rng.randint(0, 99_999_999),
        "calledNumber": "+331%08d" % rng.randint(0, 99_999_999),
        "isEngaged": rng.random() < 0.7,
        "callAnalysis": {"sentiment": rng.choice(["positive", "neutral", "negative"]),
                         "leadQuality": rng.choice(["hot", "warm", "cold"]),
                         "appointmentBooked": rng.random() < 0.4},
        "transcript": turns,
        "createdAt": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    out.write(json.dumps(call, ensure_ascii=False))
    out.write("\n")
