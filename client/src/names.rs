//! Contract enums by name: `ACTOR_TYPE_USER` or just `user`, as events in
//! JSON and command-line flags spell them.

use crate::{ActorType, Error, Granularity, Outcome};

/// Parses an actor type from its contract name (`ACTOR_TYPE_API_KEY`) or its
/// short name in any case (`api_key`).
///
/// ```
/// use audit_client::{ActorType, parse_actor_type};
///
/// assert_eq!(parse_actor_type("api_key")?, ActorType::ApiKey);
/// assert_eq!(parse_actor_type("ACTOR_TYPE_USER")?, ActorType::User);
/// assert!(parse_actor_type("robot").is_err());
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn parse_actor_type(name: &str) -> Result<ActorType, Error> {
    parse_name(name, "ACTOR_TYPE_", "actor type", ActorType::from_str_name)
}

/// Parses an outcome from its contract name (`RESULT_DENIED`) or its short
/// name in any case (`denied`).
///
/// ```
/// use audit_client::{Outcome, parse_outcome};
///
/// assert_eq!(parse_outcome("denied")?, Outcome::Denied);
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn parse_outcome(name: &str) -> Result<Outcome, Error> {
    parse_name(name, "RESULT_", "result", Outcome::from_str_name)
}

/// Parses a histogram granularity from its contract name (`GRANULARITY_HOUR`)
/// or its short name in any case (`hour`).
///
/// ```
/// use audit_client::{Granularity, parse_granularity};
///
/// assert_eq!(parse_granularity("week")?, Granularity::Week);
/// # Ok::<(), audit_client::Error>(())
/// ```
pub fn parse_granularity(name: &str) -> Result<Granularity, Error> {
    parse_name(
        name,
        "GRANULARITY_",
        "granularity",
        Granularity::from_str_name,
    )
}

fn parse_name<T>(
    name: &str,
    prefix: &str,
    what: &str,
    from_str_name: fn(&str) -> Option<T>,
) -> Result<T, Error> {
    let upper = name.trim().to_ascii_uppercase();
    from_str_name(&upper)
        .or_else(|| from_str_name(&format!("{prefix}{upper}")))
        .ok_or_else(|| Error::invalid_value(what, format!("unknown name {name:?}")))
}

/// `serde(with)` for an `i32` enum field as its contract name.
macro_rules! enum_name_serde {
    ($module:ident, $enum:ty, $parse:path) => {
        pub(crate) mod $module {
            use serde::{Deserialize, Deserializer, Serializer};

            pub(crate) fn serialize<S: Serializer>(
                value: &i32,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                match <$enum>::try_from(*value) {
                    Ok(known) => serializer.serialize_str(known.as_str_name()),
                    // A value from a newer contract: keep its number.
                    Err(_) => serializer.serialize_i32(*value),
                }
            }

            /// A name, or the bare number a newer contract's value is
            /// written as.
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum NameOrNumber {
                Name(String),
                Number(i32),
            }

            pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<i32, D::Error> {
                match NameOrNumber::deserialize(deserializer)? {
                    NameOrNumber::Number(value) => Ok(value),
                    NameOrNumber::Name(name) => $parse(&name)
                        .map(|known| known as i32)
                        .map_err(serde::de::Error::custom),
                }
            }
        }
    };
}

enum_name_serde!(actor_type_serde, crate::ActorType, crate::parse_actor_type);
enum_name_serde!(outcome_serde, crate::Outcome, crate::parse_outcome);

/// Returns the contract name of an `i32` enum value, or its number when it
/// is not one this build knows.
pub(crate) fn name_or_number<T: TryFrom<i32>>(value: i32, name: fn(&T) -> &'static str) -> String {
    match T::try_from(value) {
        Ok(known) => name(&known).to_owned(),
        Err(_) => value.to_string(),
    }
}
