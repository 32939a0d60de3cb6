//! Matching the members of the base and the head document by key.

use std::collections::BTreeMap;

/// A keyed member, seen in the base, the head, or both.
#[derive(Debug, PartialEq)]
pub enum Pair<T> {
    Removed(T),
    Added(T),
    Both(T, T),
}

impl<T> Pair<T> {
    /// The pair for a member that at most one of each side has.
    pub fn from_options(base: Option<T>, head: Option<T>) -> Option<Self> {
        match (base, head) {
            (Some(b), Some(h)) => Some(Pair::Both(b, h)),
            (Some(b), None) => Some(Pair::Removed(b)),
            (None, Some(h)) => Some(Pair::Added(h)),
            (None, None) => None,
        }
    }
}

/// Every key of either map with its values, in key order.
pub fn pair_up<K: Ord, T>(base: BTreeMap<K, T>, mut head: BTreeMap<K, T>) -> Vec<(K, Pair<T>)> {
    let mut pairs: Vec<_> = base
        .into_iter()
        .map(|(key, b)| {
            let pair = match head.remove(&key) {
                Some(h) => Pair::Both(b, h),
                None => Pair::Removed(b),
            };
            (key, pair)
        })
        .collect();
    pairs.extend(head.into_iter().map(|(key, h)| (key, Pair::Added(h))));
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_every_key_once() {
        let base = BTreeMap::from([("a", 1), ("b", 2)]);
        let head = BTreeMap::from([("b", 3), ("c", 4)]);
        let pairs = pair_up(base, head);
        assert_eq!(
            pairs,
            vec![
                ("a", Pair::Removed(1)),
                ("b", Pair::Both(2, 3)),
                ("c", Pair::Added(4))
            ]
        );
    }
}
