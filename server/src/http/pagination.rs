//! Cursor pagination: `?limit=&starting_after=`, newest first, answered as
//! `{data, has_more, next_cursor}`. Ids sort by creation, so the cursor is the last id seen.

use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
}

impl ListParams {
    /// Rows to fetch: one more than the page, to learn whether another page exists.
    pub fn fetch(&self) -> ApiResult<i64> {
        fetch_limit(self.limit)
    }
}

pub fn fetch_limit(limit: Option<i64>) -> ApiResult<i64> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n + 1),
        _ => Err(ApiError::validation("limit", "must be between 1 and 100")),
    }
}

/// One page of a list, as built; each list answers with its own `page_type!`.
#[derive(Debug)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// Declares the response type of a list of `$item`. A concrete type per list, because utoipa
/// inlines a generic `Page<T>`'s item schema instead of referring to it (utoipa#1586).
macro_rules! page_type {
    ($name:ident, $item:ty) => {
        #[doc = concat!("A page of `", stringify!($item), "`, newest first.")]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// True when more items follow this page.
            pub has_more: bool,
            /// Pass as `starting_after` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl From<$crate::http::pagination::Page<$item>> for $name {
            fn from(p: $crate::http::pagination::Page<$item>) -> Self {
                $name {
                    data: p.data,
                    has_more: p.has_more,
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}
pub(crate) use page_type;

impl<T> Page<T> {
    /// Builds a page from up to `fetch` rows (as fetched with `fetch_limit`).
    pub fn new<R>(
        mut rows: Vec<R>,
        fetch: i64,
        cursor: impl Fn(&R) -> String,
        map: impl Fn(R) -> T,
    ) -> Self {
        let page = usize::try_from(fetch - 1).unwrap_or(0);
        let has_more = rows.len() > page;
        rows.truncate(page);
        let next_cursor = if has_more {
            rows.last().map(&cursor)
        } else {
            None
        };
        Page {
            data: rows.into_iter().map(map).collect(),
            has_more,
            next_cursor,
        }
    }
}

impl<R> Page<R> {
    /// The same page with each item converted, failing on the first item that cannot be.
    pub fn try_map<T, E>(self, f: impl FnMut(R) -> Result<T, E>) -> Result<Page<T>, E> {
        Ok(Page {
            data: self.data.into_iter().map(f).collect::<Result<_, E>>()?,
            has_more: self.has_more,
            next_cursor: self.next_cursor,
        })
    }
}
