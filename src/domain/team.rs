//! Who may change whom in a project's team: inviting, changing roles, removing, leaving. The
//! database layer calls these inside the transaction that makes the change, with the roles as
//! they are at that moment, and with the project's Owner count read under a lock.

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
