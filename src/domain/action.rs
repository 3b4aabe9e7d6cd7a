//! What an audited change did: one [`Action`] per kind of change, stored as its dotted name
//! (`api_key.created`), with the kind of thing it acts on and how the audit log reads it.

use std::fmt;

/// The kind of thing an action acts on, as the audit log stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    ApiKey,
    Call,
    KnowledgeItem,
    /// A member of the project (a user, seen from the project).
    Member,
    Invitation,
    Project,
    /// A person's account, across their projects (their password).
    User,
    /// A webhook (Settings → Webhooks), named by its URL.
    Webhook,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::ApiKey => "api_key",
            Target::Call => "call",
            Target::KnowledgeItem => "knowledge_item",
            Target::Member => "member",
            Target::Invitation => "invitation",
            Target::Project => "project",
            Target::User => "user",
            Target::Webhook => "webhook",
        }
    }

    /// The target type of a stored event, when it is one this server writes.
    pub fn parse(s: &str) -> Option<Target> {
        [
            Target::ApiKey,
            Target::Call,
            Target::KnowledgeItem,
            Target::Member,
            Target::Invitation,
            Target::Project,
            Target::User,
            Target::Webhook,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Declares [`Action`] with, for each, its stored name, its target and how it reads.
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $target:ident, $phrase:literal;)*) => {
        /// Every kind of audited change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in the order the audit log's reference lists them.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The name it is stored under (`api_key.created`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// What it acts on.
            pub fn target(self) -> Target {
                match self {
                    $(Action::$variant => Target::$target,)*
                }
            }

            /// How an event of it reads on the audit log: `{target}` is the event's target
            /// (shown in emphasis), `{role}` the role its detail names.
            pub fn phrase(self) -> &'static str {
                match self {
                    $(Action::$variant => $phrase,)*
                }
            }
        }
    };
}

actions! {
    ApiKeyCreated = "api_key.created", ApiKey, "created the API key {target}";
    ApiKeyUpdated = "api_key.updated", ApiKey, "updated the API key {target}";
    ApiKeyRolled = "api_key.rolled", ApiKey, "rolled the API key {target}";
    /// A rolled key's overlap ended early ("Stop now").
    ApiKeyStopped = "api_key.stopped", ApiKey, "stopped the old key {target}";
    ApiKeyRevoked = "api_key.revoked", ApiKey, "revoked the API key {target}";
    ApiKeyReportedLeaked = "api_key.reported_leaked", ApiKey,
        "revoked the API key {target} after it was reported leaked";
    CallDeleted = "call.deleted", Call, "deleted the call {target}";
    KnowledgeCreated = "knowledge.created", KnowledgeItem, "added the knowledge item {target}";
    KnowledgeDeleted = "knowledge.deleted", KnowledgeItem, "deleted the knowledge item {target}";
    KnowledgeUpdated = "knowledge.updated", KnowledgeItem, "edited the knowledge item {target}";
    MemberInvited = "member.invited", Invitation, "invited {target} as {role}";
    InvitationRevoked = "invitation.revoked", Invitation, "revoked the invitation of {target}";
    MemberJoined = "member.joined", Member, "joined the project as {role}";
    MemberRoleChanged = "member.role_changed", Member, "changed the role of {target}";
    MemberRemoved = "member.removed", Member, "removed {target} from the project";
    MemberLeft = "member.left", Member, "left the project";
    ProjectCreated = "project.created", Project, "created the project {target}";
    ProjectRenamed = "project.renamed", Project, "renamed the project {target}";
    UserPasswordChanged = "user.password_changed", User, "changed the password of {target}";
    UserPasswordReset = "user.password_reset", User,
        "set a new password for {target} with a reset link";
    WebhookCreated = "webhook.created", Webhook, "added the webhook {target}";
    WebhookUpdated = "webhook.updated", Webhook, "edited the webhook {target}";
    WebhookDeleted = "webhook.deleted", Webhook, "deleted the webhook {target}";
    WebhookEnabled = "webhook.enabled", Webhook, "enabled the webhook {target}";
    WebhookDisabled = "webhook.disabled", Webhook, "disabled the webhook {target}";
    WebhookSecretRevealed = "webhook.secret_revealed", Webhook,
        "revealed the signing secret of the webhook {target}";
    WebhookSecretRolled = "webhook.secret_rolled", Webhook,
        "rolled the signing secret of the webhook {target}";
}

impl Action {
    /// How a key's own history (its page) names a key action, in one word or so; `None` for
    /// an action on anything else.
    pub fn in_a_keys_history(self) -> Option<&'static str> {
        Some(match self {
            Action::ApiKeyCreated => "Created",
            Action::ApiKeyUpdated => "Updated",
            Action::ApiKeyRolled => "Rolled",
            Action::ApiKeyStopped => "Stopped the old key",
            Action::ApiKeyRevoked => "Revoked",
            Action::ApiKeyReportedLeaked => "Reported leaked",
            _ => return None,
        })
    }

    /// The action a stored name is, when it is one this server writes.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_read_back_from_its_name_and_its_prefix_is_its_targets_family() {
        for &action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            let target = action.target();
            assert_eq!(Target::parse(target.as_str()), Some(target));
            assert!(action.as_str().contains('.'), "{action}");
        }
        assert_eq!(Action::parse("api_key.deleted"), None);
        for &action in Action::ALL {
            assert_eq!(
                action.in_a_keys_history().is_some(),
                action.target() == Target::ApiKey,
                "{action}: every key action, and only those, has a word on the key's page"
            );
        }
        assert_eq!(
            Action::ApiKeyReportedLeaked.to_string(),
            "api_key.reported_leaked"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
