//! Serde support for lists of IANA zone names with "did you mean" errors.

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serializer};

/// Deserializes a list of zone names, naming the misspelt one.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Tz>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    names
        .iter()
        .map(|name| crate::suggest::parse_time_zone(name).map_err(serde::de::Error::custom))
        .collect()
}

/// Serializes zones by their IANA names.
pub fn serialize<S: Serializer>(zones: &[Tz], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(zones.iter().map(|tz| tz.name()))
}
