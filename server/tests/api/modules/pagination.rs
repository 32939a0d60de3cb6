//! Pages and their limits.

use neoforge_server::http::pagination::*;

#[test]
fn pages_know_whether_more_follow() {
    let p = Page::new(vec![5, 4, 3], 3, |r| r.to_string(), |r| r);
    assert_eq!(p.data, vec![5, 4]);
    assert!(p.has_more);
    assert_eq!(p.next_cursor.as_deref(), Some("4"));
    let p = Page::new(vec![5, 4], 3, |r| r.to_string(), |r| r);
    assert!(!p.has_more);
    assert_eq!(p.next_cursor, None);
}

#[test]
fn limits_are_bounded() {
    assert_eq!(fetch_limit(None).ok(), Some(11));
    assert!(fetch_limit(Some(0)).is_err());
    assert!(fetch_limit(Some(101)).is_err());
}
