//! Page token cases: text a client made up, bodies sealed with the real key
//! (to reach the parsing behind the HMAC), and positions the server issues.

use arbitrary::Arbitrary;
use audit_validation::domain::{Cursor, FollowPosition, ListOrder};
use audit_validation::page_token::{PageTokenError, PageTokenKey, QueryBinding};
use std::sync::LazyLock;

/// The key every case is issued and opened with.
static KEY: LazyLock<PageTokenKey> =
    LazyLock::new(|| PageTokenKey::derive(b"fuzzing secret of at least 32 bytes"));

/// One thing a fuzz input can stand for.
#[derive(Debug, Arbitrary)]
pub enum TokenCase {
    /// Any text in the `page_token` field.
    Forged { token: String, query: Query },
    /// Any body, with a valid tag: only the server's own parser stands
    /// between it and a position.
    Sealed { body: Vec<u8>, query: Query },
    /// A List position the server issued, then perhaps damaged.
    Issued {
        occurred_at: i64,
        id: [u8; 16],
        query: Query,
        flip: Option<(u16, u8)>,
    },
    /// A follow position the server issued.
    IssuedFollow {
        position: Vec<(String, i64)>,
        query: Query,
    },
}

/// The query a token is opened for.
#[derive(Debug, Arbitrary)]
pub struct Query {
    scope: String,
    filter: Vec<u8>,
    oldest_first: bool,
}

impl Query {
    fn binding(&self) -> QueryBinding {
        QueryBinding::new(&self.scope, &self.filter)
    }

    fn order(&self) -> ListOrder {
        if self.oldest_first {
            ListOrder::OldestFirst
        } else {
            ListOrder::NewestFirst
        }
    }
}

/// Runs one case and asserts what the List and follow handlers rely on.
pub fn check_token_case(case: TokenCase) {
    match case {
        TokenCase::Forged { token, query } => {
            // Without the key nothing opens: a success would be a forgery.
            let binding = query.binding();
            assert!(KEY.open(&token, &binding, query.order()).is_err());
            assert!(KEY.open_follow(&token, &binding).is_err());
        }
        TokenCase::Sealed { body, query } => {
            let token = KEY.seal_for_fuzzing(&body);
            let binding = query.binding();
            if let Ok(cursor) = KEY.open(&token, &binding, query.order()) {
                // Only the canonical form of a position opens.
                assert_eq!(KEY.issue(&binding, query.order(), cursor), token);
            }
            if let Ok(position) = KEY.open_follow(&token, &binding) {
                let reissued = KEY.issue_follow(&binding, &position);
                assert_eq!(KEY.open_follow(&reissued, &binding), Ok(position));
            }
        }
        TokenCase::Issued {
            occurred_at,
            id,
            query,
            flip,
        } => {
            let binding = query.binding();
            let cursor = Cursor {
                occurred_at,
                id: uuid::Uuid::from_bytes(id),
            };
            let token = KEY.issue(&binding, query.order(), cursor);
            assert_eq!(KEY.open(&token, &binding, query.order()), Ok(cursor));
            assert_eq!(
                KEY.open_follow(&token, &binding),
                Err(PageTokenError::OtherMode)
            );
            if let Some((at, mask)) = flip {
                let damaged = flip_char(&token, at, mask);
                // A damaged token never opens to another position.
                if let Ok(opened) = KEY.open(&damaged, &binding, query.order()) {
                    assert_eq!(opened, cursor, "damaged token {damaged} opened");
                }
            }
        }
        TokenCase::IssuedFollow { position, query } => {
            let binding = query.binding();
            let position: FollowPosition = position.into_iter().collect();
            let token = KEY.issue_follow(&binding, &position);
            let all_fit = position
                .keys()
                .all(|tenant| tenant.len() <= usize::from(u16::MAX));
            match KEY.open_follow(&token, &binding) {
                Ok(opened) => assert_eq!(opened, position),
                // A tenant id too long for its length field makes a token
                // that is refused, never one that opens elsewhere.
                Err(error) => assert!(!all_fit, "issued follow token refused: {error:?}"),
            }
        }
    }
}

/// Replaces one character of a token with another base64url character.
fn flip_char(token: &str, at: u16, mask: u8) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = token.as_bytes().to_vec();
    let index = usize::from(at) % bytes.len();
    bytes[index] = ALPHABET[usize::from(mask) % ALPHABET.len()];
    String::from_utf8(bytes).unwrap_or_default()
}
