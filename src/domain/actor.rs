//! Who makes a change, and from which address: the dashboard's project context carries the
//! signed-in member's, the API's principal the key's, the command line its own. Every audited
//! change is given one, so its event names them the same way wherever it was made.

use super::client_ip::ClientAddr;
use super::ids::{KeyId, UserId};

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A signed-in user, in the dashboard (or a reset link's holder, acting as the account).
    User(UserId),
    /// An API key, through `/v1`.
    Key(KeyId),
    /// `callem` on the server.
    CommandLine,
    /// Someone who reported a key leaked (`POST /v1/leaked-keys`): anonymous, since holding
    /// the key is the proof.
    LeakReport,
    /// The server itself (the delivery job disabling a webhook that keeps failing).
    Server,
}

/// Who acts, and from where (none for the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub who: Who,
    pub from: Option<ClientAddr>,
}

/// How the command line is named as an actor.
pub const COMMAND_LINE: &str = "Command line";
/// How an anonymous leak report is named as an actor.
pub const LEAK_REPORT: &str = "a leak report";
/// How the server itself is named as an actor.
pub const SERVER: &str = "Callem (automatic)";

impl Actor {
    pub fn user(id: UserId, from: ClientAddr) -> Actor {
        Actor {
            who: Who::User(id),
            from: Some(from),
        }
    }

    pub fn key(id: KeyId, from: ClientAddr) -> Actor {
        Actor {
            who: Who::Key(id),
            from: Some(from),
        }
    }

    pub fn command_line() -> Actor {
        Actor {
            who: Who::CommandLine,
            from: None,
        }
    }

    pub fn server() -> Actor {
        Actor {
            who: Who::Server,
            from: None,
        }
    }

    pub fn leak_report(from: ClientAddr) -> Actor {
        Actor {
            who: Who::LeakReport,
            from: Some(from),
        }
    }

    /// The user acting, if a user is.
    pub fn user_id(&self) -> Option<&UserId> {
        match &self.who {
            Who::User(id) => Some(id),
            _ => None,
        }
    }

    /// The key acting, if a key is.
    pub fn key_id(&self) -> Option<&KeyId> {
        match &self.who {
            Who::Key(id) => Some(id),
            _ => None,
        }
    }

    /// The kind of actor, as the audit log stores it.
    pub fn kind(&self) -> &'static str {
        match self.who {
            Who::User(_) => "user",
            Who::Key(_) => "api_key",
            Who::CommandLine => "command_line",
            Who::LeakReport => "leak_report",
            Who::Server => "server",
        }
    }

    /// The address as the audit log stores it (`unknown` for a client a trusted proxy did
    /// not name).
    pub fn address(&self) -> Option<String> {
        self.from.as_ref().map(ClientAddr::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn an_actor_says_who_and_from_where_as_the_audit_log_stores_it() {
        let from = ClientAddr::Known(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
        let user = UserId::generate();
        let actor = Actor::user(user.clone(), from);
        assert_eq!(actor.kind(), "user");
        assert_eq!(actor.user_id(), Some(&user));
        assert_eq!(actor.key_id(), None);
        assert_eq!(actor.address().as_deref(), Some("203.0.113.7"));

        let cli = Actor::command_line();
        assert_eq!(cli.kind(), "command_line");
        assert_eq!((cli.user_id(), cli.address()), (None, None));

        let proxied = Actor::leak_report(ClientAddr::Unknown {
            proxy: IpAddr::V4(Ipv4Addr::LOCALHOST),
        });
        assert_eq!(proxied.kind(), "leak_report");
        assert_eq!(proxied.address().as_deref(), Some("unknown"));
    }
}
