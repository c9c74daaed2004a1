//! Bounds on what a topology may cost to read. YAML aliases let a small text stand
//! for an enormous document (a "billion laughs"), and the YAML parser bounds alias
//! jumps, not what they expand to; so before any value is built, one pass walks the
//! document as the parser expands it, counting values and nesting, and stops at
//! the first limit crossed. That pass allocates nothing per value, so a refused
//! document costs time proportional to the budget and no memory beyond the
//! parser's own event list (linear in the text).

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// How large a topology may be. Every bound is checked before the document is
/// built into values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopologyLimits {
    /// Largest text, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of lists and mappings.
    pub max_depth: usize,
    /// Most nodes.
    pub max_nodes: usize,
    /// Most links.
    pub max_links: usize,
    /// Most YAML values aliases may add beyond what the text spells out (the text
    /// itself is allowed two values per byte, more than any YAML can spell).
    pub max_alias_expansion: usize,
}

impl Default for TopologyLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_nodes: 1_000,
            max_links: 5_000,
            max_alias_expansion: 100_000,
        }
    }
}

/// Which bound a topology crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopologyLimit {
    /// [`TopologyLimits::max_bytes`].
    Bytes,
    /// [`TopologyLimits::max_depth`].
    Depth,
    /// [`TopologyLimits::max_nodes`].
    Nodes,
    /// [`TopologyLimits::max_links`].
    Links,
    /// [`TopologyLimits::max_alias_expansion`].
    AliasExpansion,
}

impl TopologyLimit {
    /// The configuration key that sets this bound.
    pub fn config_key(self) -> &'static str {
        match self {
            TopologyLimit::Bytes => "limits.topology_max_bytes",
            TopologyLimit::Depth => "limits.topology_max_depth",
            TopologyLimit::Nodes => "limits.topology_max_nodes",
            TopologyLimit::Links => "limits.topology_max_links",
            TopologyLimit::AliasExpansion => "limits.topology_max_alias_expansion",
        }
    }
}

/// A topology over one of its limits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}; the limit is {max} ({})", describe(*.limit, *.found), .limit.config_key())]
pub struct LimitExceeded {
    /// The bound crossed.
    pub limit: TopologyLimit,
    /// What was found (for depth and expansion: the count at which reading stopped).
    pub found: usize,
    /// The bound.
    pub max: usize,
}

fn describe(limit: TopologyLimit, found: usize) -> String {
    match limit {
        TopologyLimit::Bytes => format!("topology is {found} bytes"),
        TopologyLimit::Depth => format!("topology nests {found} levels deep"),
        TopologyLimit::Nodes => format!("topology has {found} nodes"),
        TopologyLimit::Links => format!("topology has {found} links"),
        TopologyLimit::AliasExpansion => {
            format!("topology aliases expand it past {found} values")
        }
    }
}

impl TopologyLimits {
    /// Refuses a text of `bytes` bytes when it is over [`Self::max_bytes`]; cheap, so
    /// callers holding a request body check it before anything else.
    pub fn check_size(&self, bytes: usize) -> Result<(), LimitExceeded> {
        check(TopologyLimit::Bytes, bytes, self.max_bytes)
    }

    /// Refuses `nodes` nodes and `links` links over their bounds.
    pub(super) fn check_counts(&self, nodes: usize, links: usize) -> Result<(), LimitExceeded> {
        check(TopologyLimit::Nodes, nodes, self.max_nodes)?;
        check(TopologyLimit::Links, links, self.max_links)
    }

    /// Walks `yaml` as the parser expands it and refuses it at the first bound
    /// crossed. `Ok` also when the text is not valid YAML: the parse that follows
    /// reports that with its line.
    pub(super) fn check_expansion(&self, yaml: &str) -> Result<(), LimitExceeded> {
        let extra = self.max_alias_expansion;
        let mut budget = Budget {
            values: 0,
            max_values: yaml
                .len()
                .saturating_mul(2)
                .saturating_add(2)
                .saturating_add(extra),
            extra,
            depth: 0,
            max_depth: self.max_depth,
            exceeded: None,
        };
        let outcome = Walk(&mut budget).deserialize(serde_norway::Deserializer::from_str(yaml));
        if let Some(exceeded) = budget.exceeded {
            return Err(exceeded);
        }
        match outcome {
            // The parser's own guard against alias jumps (a multiple of the
            // document's events) can trip before the value budget; it is the same
            // attack, so it is refused as the same limit. The parser exposes no
            // error kind, only its message.
            Err(error) if error.to_string().starts_with("repetition limit exceeded") => {
                Err(LimitExceeded {
                    limit: TopologyLimit::AliasExpansion,
                    found: budget.values,
                    max: extra,
                })
            }
            // Any other parse error is reported by the parse that builds the
            // values, with its line.
            _ => Ok(()),
        }
    }
}

fn check(limit: TopologyLimit, found: usize, max: usize) -> Result<(), LimitExceeded> {
    if found > max {
        return Err(LimitExceeded { limit, found, max });
    }
    Ok(())
}

struct Budget {
    values: usize,
    max_values: usize,
    extra: usize,
    depth: usize,
    max_depth: usize,
    exceeded: Option<LimitExceeded>,
}

impl Budget {
    fn value<E: de::Error>(&mut self) -> Result<(), E> {
        self.values += 1;
        if self.values > self.max_values {
            return Err(self.stop(LimitExceeded {
                limit: TopologyLimit::AliasExpansion,
                found: self.max_values,
                max: self.extra,
            }));
        }
        Ok(())
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.value()?;
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.stop(LimitExceeded {
                limit: TopologyLimit::Depth,
                found: self.depth,
                max: self.max_depth,
            }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn stop<E: de::Error>(&mut self, exceeded: LimitExceeded) -> E {
        let error = E::custom(&exceeded);
        self.exceeded = Some(exceeded);
        error
    }
}

/// One value of the walk: counted, never built.
struct Walk<'a>(&'a mut Budget);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

macro_rules! scalars {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<(), E> {
            self.0.value()
        })*
    };
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    scalars!(
        visit_bool: bool,
        visit_i64: i64,
        visit_i128: i128,
        visit_u64: u64,
        visit_u128: u128,
        visit_f64: f64,
        visit_str: &str,
        visit_bytes: &[u8],
    );

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.value()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.value()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.enter()?;
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        self.0.leave();
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.enter()?;
        while map.next_key_seed(Walk(&mut *self.0))?.is_some() {
            map.next_value_seed(Walk(&mut *self.0))?;
        }
        self.0.leave();
        Ok(())
    }

    /// A tagged value (`!tag value`): the tag is text, the value is walked.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        let (_, contents) = data.variant::<de::IgnoredAny>()?;
        contents.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` levels of `fanout` aliases each, over a one-scalar anchor: about
    /// `fanout ^ levels` values from a few hundred bytes.
    pub(crate) fn alias_bomb(levels: usize, fanout: usize) -> String {
        let mut text = String::from("a0: &a0 [lol]\n");
        for level in 1..=levels {
            let refs = vec![format!("*a{}", level - 1); fanout].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn a_billion_laughs_is_refused_by_expansion() {
        let bomb = alias_bomb(9, 10);
        let err = TopologyLimits::default()
            .check_expansion(&bomb)
            .unwrap_err();
        assert_eq!(err.limit, TopologyLimit::AliasExpansion);
        assert!(err
            .to_string()
            .contains("limits.topology_max_alias_expansion"));
    }

    #[test]
    fn a_few_aliases_are_fine() {
        assert!(TopologyLimits::default()
            .check_expansion(&alias_bomb(3, 4))
            .is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
        let err = TopologyLimits::default()
            .check_expansion(&deep)
            .unwrap_err();
        assert_eq!(err.limit, TopologyLimit::Depth);
        assert!(TopologyLimits::default()
            .check_expansion(&format!("{}{}", "[".repeat(60), "]".repeat(60)))
            .is_ok());
    }

    #[test]
    fn size_message_names_the_setting() {
        let err = TopologyLimits::default().check_size(1_048_577).unwrap_err();
        assert_eq!(
            err.to_string(),
            "topology is 1048577 bytes; the limit is 1048576 (limits.topology_max_bytes)"
        );
    }
}
