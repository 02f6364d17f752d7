//! Serde support for lists of IANA zone names with "did you mean" errors.

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serializer};

/// One zone name, parsed on its own so an error names its index in the list.
struct ZoneName(Tz);

impl<'de> Deserialize<'de> for ZoneName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::with_text(deserializer, |name| {
            crate::suggest::parse_time_zone(name).map(ZoneName)
        })
    }
}

/// Deserializes a list of zone names, naming the misspelt one.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Tz>, D::Error> {
    Ok(Vec::<ZoneName>::deserialize(deserializer)?
        .into_iter()
        .map(|zone| zone.0)
        .collect())
}

/// The same for a shared list (`Arc<[Tz]>`).
pub mod shared {
    use std::sync::Arc;

    use chrono_tz::Tz;
    use serde::{Deserializer, Serializer};

    /// Deserializes a list of zone names.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<[Tz]>, D::Error> {
        super::deserialize(deserializer).map(Arc::from)
    }

    /// Serializes zones by their IANA names.
    pub fn serialize<S: Serializer>(zones: &Arc<[Tz]>, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(zones, serializer)
    }
}

/// Serializes zones by their IANA names.
pub fn serialize<S: Serializer>(zones: &[Tz], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(zones.iter().map(|tz| tz.name()))
}
