//! How domain types are stored: ids, roles, call statuses and key scopes as TEXT on both backends. A stored
//! value that is not one of ours (a role renamed by hand in the database, say) fails the query
//! that reads it, as any other unreadable column does.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::api_key::KeyHash;
use crate::domain::calls::CallStatus;
use crate::domain::ids::{
    CallId, DeliveryId, EventId, InvitationId, KeyId, KnowledgeId, ProjectId, UserId, WebhookId,
};
use crate::domain::role::Role;
use crate::domain::scope::Scope;

macro_rules! stored_as_text {
    ($($name:ty),*) => {$(
        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                <String as FromSql<Text, DB>>::from_sql(bytes).map(<$name>::from_stored)
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }
    )*};
}

stored_as_text!(
    ProjectId,
    KeyId,
    UserId,
    CallId,
    KnowledgeId,
    EventId,
    InvitationId,
    WebhookId,
    DeliveryId,
    KeyHash
);

macro_rules! stored_as_its_name {
    ($($name:ty),*) => {$(
        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let stored = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                stored.parse::<$name>().map_err(|e| e.0.into())
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }
    )*};
}

stored_as_its_name!(Role, CallStatus, Scope);
