//! Who may change whom in a project's team: inviting (and how often, and whether the link is
//! shown), revoking invitations, changing roles, removing, leaving, and whether an invitation
//! still stands once its inviter's role changed. The database layer calls these inside the
//! transaction that makes the change, with the roles as they are at that moment, and with the
//! project's Owner count read under a lock.

use super::role::Role;

/// How long an invitation link works.
pub const INVITATION_DAYS: u64 = 7;

/// Why a team change is refused; the text is what the person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The role does not manage the team (Developer, Member): a 403.
    #[error("Your role in this project does not allow this action.")]
    NotAllowed,
    /// An Admin touching the Owner role.
    #[error("Only an Owner can grant or remove the Owner role.")]
    OwnerOnly,
    /// The change would leave the project without an Owner.
    #[error("Make someone else Owner first.")]
    LastOwner,
    /// An Admin revoking or replacing a pending invitation to the Owner role.
    #[error(
        "This address has a pending invitation as Owner: only an Owner can revoke or replace it."
    )]
    OwnerInvitation,
}

/// At most this many invitations an hour from one person, across projects.
pub const INVITATIONS_PER_INVITER_PER_HOUR: i64 = 20;
/// At most this many invitations an hour from one project, whoever sends them.
pub const INVITATIONS_PER_PROJECT_PER_HOUR: i64 = 20;
/// At most this many invitation emails a day to one address, across projects.
pub const EMAILS_PER_ADDRESS_PER_DAY: i64 = 3;

/// How many invitations were made recently, counted in the database (so every replica sees
/// the same numbers) before a new one is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentInvitations {
    /// By the inviter, in the last hour, in any project.
    pub by_inviter: i64,
    /// In the project, in the last hour, by anyone.
    pub in_project: i64,
    /// To the address, in the last day, from any project; None when no email is sent (email
    /// is not set up), so nothing floods the address.
    pub to_address: Option<i64>,
}

/// An invitation limit reached; the text is shown next to the email field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooMany {
    #[error("You have sent {INVITATIONS_PER_INVITER_PER_HOUR} invitations in the last hour, the most allowed. Try again later.")]
    ByInviter,
    #[error("This project has sent {INVITATIONS_PER_PROJECT_PER_HOUR} invitations in the last hour, the most allowed. Try again later.")]
    InProject,
    #[error("This address has been sent {EMAILS_PER_ADDRESS_PER_DAY} invitations in the last day, the most allowed. Try again tomorrow.")]
    ToAddress,
}

/// Whether one more invitation may be made (and emailed) after `recent`.
pub fn within_limits(recent: RecentInvitations) -> Result<(), TooMany> {
    if recent.by_inviter >= INVITATIONS_PER_INVITER_PER_HOUR {
        return Err(TooMany::ByInviter);
    }
    if recent.in_project >= INVITATIONS_PER_PROJECT_PER_HOUR {
        return Err(TooMany::InProject);
    }
    if recent
        .to_address
        .is_some_and(|n| n >= EMAILS_PER_ADDRESS_PER_DAY)
    {
        return Err(TooMany::ToAddress);
    }
    Ok(())
}

/// Whether the inviter is shown the invitation link. Only when email is not set up (then the
/// link is the only way to pass the invitation on). With email, the link goes to the address
/// alone, whether or not it has an account: whoever accepts it has shown they read that
/// mailbox, and the modal tells the inviter nothing about which addresses have accounts.
pub fn link_is_shown(email_configured: bool) -> bool {
    !email_configured
}

impl Role {
    /// Owner and Admin invite, change roles and remove members.
    pub fn can_manage_team(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// The roles this role may give (in an invitation or a role change), highest first.
    pub fn grantable(self) -> &'static [Role] {
        match self {
            Role::Owner => &[Role::Owner, Role::Admin, Role::Developer, Role::Member],
            Role::Admin => &[Role::Admin, Role::Developer, Role::Member],
            Role::Developer | Role::Member => &[],
        }
    }
}

fn manages(actor: Role) -> Result<(), Refusal> {
    if actor.can_manage_team() {
        Ok(())
    } else {
        Err(Refusal::NotAllowed)
    }
}

/// Whether `actor` may invite someone as `role`.
pub fn may_invite(actor: Role, role: Role) -> Result<(), Refusal> {
    manages(actor)?;
    if role == Role::Owner && actor != Role::Owner {
        return Err(Refusal::OwnerOnly);
    }
    Ok(())
}

/// Whether `actor` may revoke a pending invitation to `role`, or replace it by inviting its
/// address again: as for granting it, only an Owner touches an invitation to the Owner role.
pub fn may_revoke_invitation(actor: Role, role: Role) -> Result<(), Refusal> {
    manages(actor)?;
    if role == Role::Owner && actor != Role::Owner {
        return Err(Refusal::OwnerInvitation);
    }
    Ok(())
}

/// Whether an invitation to `role` made by someone whose role is now `inviter` (None: no
/// longer a member) still stands. Checked when it is opened and accepted, so an invitation
/// never outlives its inviter's right to make it.
pub fn invitation_stands(inviter: Option<Role>, role: Role) -> bool {
    inviter.is_some_and(|by| may_invite(by, role).is_ok())
}

/// Whether `actor` may change a member from `from` to `to`, the project having `owners`
/// Owners (the target included when `from` is Owner).
pub fn may_change_role(actor: Role, from: Role, to: Role, owners: i64) -> Result<(), Refusal> {
    manages(actor)?;
    if (from == Role::Owner || to == Role::Owner) && actor != Role::Owner {
        return Err(Refusal::OwnerOnly);
    }
    if from == Role::Owner && to != Role::Owner && owners <= 1 {
        return Err(Refusal::LastOwner);
    }
    Ok(())
}

/// Whether `actor` may remove a member whose role is `target`.
pub fn may_remove(actor: Role, target: Role, owners: i64) -> Result<(), Refusal> {
    manages(actor)?;
    if target == Role::Owner && actor != Role::Owner {
        return Err(Refusal::OwnerOnly);
    }
    may_leave(target, owners)
}

/// Whether a member with `role` may leave (or be removed): not the last Owner.
pub fn may_leave(role: Role, owners: i64) -> Result<(), Refusal> {
    if role == Role::Owner && owners <= 1 {
        Err(Refusal::LastOwner)
    } else {
        Ok(())
    }
}

/// The audit detail of a role change: `{"role": ["developer", "admin"]}`.
pub fn role_change_detail(from: Option<Role>, to: Role) -> String {
    serde_json::json!({ "role": [from.map(Role::as_str), to.as_str()] }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn only_owners_and_admins_manage_the_team_and_only_owners_touch_owner() {
        assert_eq!(may_invite(Developer, Member), Err(Refusal::NotAllowed));
        assert_eq!(may_invite(Member, Member), Err(Refusal::NotAllowed));
        assert_eq!(may_invite(Admin, Owner), Err(Refusal::OwnerOnly));
        assert_eq!(may_invite(Admin, Admin), Ok(()));
        assert_eq!(may_invite(Owner, Owner), Ok(()));
        assert_eq!(
            may_change_role(Admin, Developer, Owner, 1),
            Err(Refusal::OwnerOnly)
        );
        assert_eq!(
            may_change_role(Admin, Owner, Admin, 2),
            Err(Refusal::OwnerOnly)
        );
        assert_eq!(may_change_role(Admin, Member, Admin, 1), Ok(()));
        assert_eq!(
            may_change_role(Developer, Member, Developer, 1),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(may_remove(Admin, Owner, 3), Err(Refusal::OwnerOnly));
        assert_eq!(may_remove(Admin, Admin, 1), Ok(()));
        assert!(!Admin.grantable().contains(&Owner));
        assert!(Owner.grantable().contains(&Owner));
    }

    #[test]
    fn only_owners_revoke_owner_invitations_and_invitations_fall_with_their_inviter() {
        assert_eq!(
            may_revoke_invitation(Admin, Owner),
            Err(Refusal::OwnerInvitation)
        );
        assert_eq!(may_revoke_invitation(Admin, Admin), Ok(()));
        assert_eq!(may_revoke_invitation(Owner, Owner), Ok(()));
        assert_eq!(
            may_revoke_invitation(Developer, Member),
            Err(Refusal::NotAllowed)
        );
        assert!(invitation_stands(Some(Admin), Admin));
        assert!(invitation_stands(Some(Owner), Owner));
        assert!(!invitation_stands(None, Member), "removed or left");
        assert!(!invitation_stands(Some(Developer), Member), "demoted");
        assert!(!invitation_stands(Some(Admin), Owner));
    }

    #[test]
    fn invitations_are_limited_per_inviter_project_and_emailed_address() {
        let fine = RecentInvitations {
            by_inviter: 19,
            in_project: 19,
            to_address: Some(2),
        };
        assert_eq!(within_limits(fine), Ok(()));
        let by = RecentInvitations {
            by_inviter: 20,
            ..fine
        };
        assert_eq!(within_limits(by), Err(TooMany::ByInviter));
        let project = RecentInvitations {
            in_project: 20,
            ..fine
        };
        assert_eq!(within_limits(project), Err(TooMany::InProject));
        let address = RecentInvitations {
            to_address: Some(3),
            ..fine
        };
        assert_eq!(within_limits(address), Err(TooMany::ToAddress));
        let no_email = RecentInvitations {
            to_address: None,
            ..fine
        };
        assert_eq!(within_limits(no_email), Ok(()));
        assert!(TooMany::ToAddress.to_string().contains("3 invitations"));
        assert!(link_is_shown(false) && !link_is_shown(true));
    }

    #[test]
    fn the_last_owner_stays() {
        assert_eq!(
            may_change_role(Owner, Owner, Admin, 1),
            Err(Refusal::LastOwner)
        );
        assert_eq!(may_change_role(Owner, Owner, Admin, 2), Ok(()));
        assert_eq!(may_change_role(Owner, Owner, Owner, 1), Ok(()));
        assert_eq!(may_remove(Owner, Owner, 1), Err(Refusal::LastOwner));
        assert_eq!(may_leave(Owner, 1), Err(Refusal::LastOwner));
        assert_eq!(may_leave(Owner, 2), Ok(()));
        assert_eq!(may_leave(Member, 1), Ok(()));
    }

    #[test]
    fn a_role_change_is_detailed_from_and_to() {
        assert_eq!(
            role_change_detail(Some(Developer), Admin),
            r#"{"role":["developer","admin"]}"#
        );
        assert_eq!(
            role_change_detail(None, Member),
            r#"{"role":[null,"member"]}"#
        );
    }
}
