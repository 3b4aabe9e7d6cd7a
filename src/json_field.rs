//! A field of a JSON request body or import line, read whatever JSON it holds: absent (or
//! null), a value of the expected type, or something else. The edge reads bodies into structs
//! of these, so that a wrong type is refused with the contract's message naming the field
//! rather than with serde's wording, and converts them into domain values with `TryFrom`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    /// Absent or null.
    #[default]
    Absent,
    Given(T),
    /// Present, but not a `T`.
    Wrong,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            None => Field::Absent,
            Some(v) => serde_json::from_value(v).map_or(Field::Wrong, Field::Given),
        })
    }
}

impl<T> Field<T> {
    /// The value if given, `None` if absent, and `wrong` if it is not a `T`.
    pub fn optional<E>(self, wrong: impl FnOnce() -> E) -> Result<Option<T>, E> {
        match self {
            Field::Absent => Ok(None),
            Field::Given(v) => Ok(Some(v)),
            Field::Wrong => Err(wrong()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        name: Field<String>,
        #[serde(default)]
        count: Field<u32>,
    }

    #[test]
    fn a_field_is_absent_given_or_wrong_and_never_fails_the_body() {
        let b: Body = serde_json::from_str(r#"{"name": "n", "count": "3"}"#).unwrap();
        assert_eq!((b.name, b.count), (Field::Given("n".into()), Field::Wrong));
        let b: Body = serde_json::from_str(r#"{"name": null}"#).unwrap();
        assert_eq!((b.name, b.count), (Field::Absent, Field::Absent));
        let b: Body = serde_json::from_str(r#"{"name": ["x"], "count": 2}"#).unwrap();
        assert_eq!((b.name, b.count), (Field::Wrong, Field::Given(2)));
    }
}
