//! The benchmark's data set, generated deterministically from a seed: 64
//! tenants of skewed sizes (the largest holds a quarter of the events), 12
//! months of `occurred_at`, 1,000 actors and 200 targets per tenant, 40
//! actions in 6 prefixes, 4 results, addresses from 300 IPv4 /24 networks
//! and 100 to 500 bytes of metadata.
//!
//! Every event is a pure function of (seed, tenant, index), so any client
//! task can generate any batch without coordination, and the service and
//! the COPY ceiling see the very same events.

use serde_json::json;

pub const TENANTS: usize = 64;
pub const ACTORS_PER_TENANT: u64 = 1000;
pub const TARGETS_PER_TENANT: u64 = 200;
pub const NETWORKS: u64 = 300;

/// The end of the 12 months the events span (2026-11-01T00:00:00Z).
pub const END_MICROS: i64 = 1_793_491_200_000_000;
pub const DAY_MICROS: i64 = 86_400_000_000;
pub const START_MICROS: i64 = END_MICROS - 365 * DAY_MICROS;

/// 40 actions in 6 prefixes. `project.member.*` shares its first segment
/// with `project.*`, so a filter on it takes the server's substr path.
pub const ACTIONS: [&str; 40] = [
    "user.login",
    "user.logout",
    "user.login_failed",
    "user.password_changed",
    "user.mfa_enabled",
    "user.mfa_disabled",
    "user.created",
    "user.deleted",
    "project.created",
    "project.updated",
    "project.archived",
    "project.deleted",
    "project.renamed",
    "project.transferred",
    "project.member.added",
    "project.member.removed",
    "project.member.role_changed",
    "project.member.invited",
    "project.member.invitation_revoked",
    "api_key.created",
    "api_key.revoked",
    "api_key.rotated",
    "api_key.used",
    "api_key.expired",
    "billing.invoice_paid",
    "billing.invoice_failed",
    "billing.plan_changed",
    "billing.card_added",
    "billing.card_removed",
    "billing.refund_issued",
    "org.settings.updated",
    "org.settings.sso_enabled",
    "org.settings.sso_disabled",
    "org.settings.domain_verified",
    "org.settings.domain_removed",
    "org.settings.policy_changed",
    "org.settings.export_requested",
    "org.settings.audit_viewed",
    "org.settings.retention_changed",
    "org.settings.ip_allowlist_changed",
];

const TARGET_TYPES: [&str; 5] = ["project", "document", "api_key", "repository", "invoice"];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15",
    "acme-cli/2.4.1",
    "terraform-provider-acme/1.9.0",
];
const METHODS: [&str; 4] = ["GET", "POST", "PATCH", "DELETE"];

/// splitmix64: tiny, fast and good enough to spread benchmark values.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An integer in [0, n), skewed towards 0 (density ∝ 1/√x): a few
    /// actors, targets and networks are busy, most are quiet.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((u * u * n as f64) as u64).min(n.saturating_sub(1))
    }
}

/// One generated event, in plain fields that both the gRPC request and the
/// COPY row are built from.
#[derive(Debug, Clone)]
pub struct Event {
    pub tenant: usize,
    pub occurred_at: i64,
    pub action: &'static str,
    pub actor_id: String,
    pub actor_type: i32,
    pub actor_name: String,
    pub actor_email: String,
    pub target_type: &'static str,
    pub target_id: String,
    pub target_name: String,
    /// The proto `Result` number: 1 success, 2 failure, 3 denied, 4 error.
    pub result: i32,
    pub client_ip: [u8; 4],
    pub user_agent: &'static str,
    pub method: &'static str,
    pub path: String,
    pub status_code: i32,
    pub metadata: serde_json::Value,
    pub request_id: String,
}

/// The data set: how many events each tenant holds, and the seed.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub seed: u64,
    pub tenant_events: Vec<u64>,
}

impl DataSet {
    /// Splits `events` over 64 tenants: the first holds a quarter, the rest
    /// share three quarters with weights 1/k (k = 1..63), so the second is
    /// about 15 times the smallest.
    pub fn new(seed: u64, events: u64) -> Self {
        let largest = events / 4;
        let rest = events - largest;
        let weights: Vec<f64> = (1..TENANTS).map(|k| 1.0 / k as f64).collect();
        let total_weight: f64 = weights.iter().sum();
        let mut tenant_events = vec![largest];
        tenant_events.extend(
            weights
                .iter()
                .map(|weight| ((rest as f64 * weight / total_weight).floor() as u64).max(1)),
        );
        // Rounding leftovers go to the second tenant, keeping the total exact.
        let assigned: u64 = tenant_events.iter().sum();
        if assigned < events {
            tenant_events[1] += events - assigned;
        } else if assigned > events {
            tenant_events[1] = tenant_events[1].saturating_sub(assigned - events);
        }
        Self {
            seed,
            tenant_events,
        }
    }

    pub fn total(&self) -> u64 {
        self.tenant_events.iter().sum()
    }

    /// The name of tenant `index`.
    pub fn tenant_name(index: usize) -> String {
        format!("tenant-{index:02}")
    }

    /// Returns event `n` of tenant `tenant`. `stream` separates independent
    /// event streams (the main set, the batch-size samples, single appends)
    /// drawn from the same distributions.
    pub fn event(&self, stream: u64, tenant: usize, n: u64) -> Event {
        let mix = self.seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407);
        let mut rng = SplitMix64::new(mix ^ ((tenant as u64) << 40) ^ n);
        // Burn one output so neighbouring seeds decorrelate.
        rng.next_u64();
        let occurred_at = START_MICROS + rng.below((END_MICROS - START_MICROS) as u64) as i64;
        let actor = rng.skewed(ACTORS_PER_TENANT);
        let target = rng.skewed(TARGETS_PER_TENANT);
        let action = ACTIONS[rng.skewed(ACTIONS.len() as u64) as usize];
        let result = match rng.below(100) {
            0..80 => 1,
            80..90 => 2,
            90..97 => 3,
            _ => 4,
        };
        let network = rng.skewed(NETWORKS);
        let host = 1 + rng.below(254) as u8;
        // Actor kinds by id range: mostly people, some keys and services.
        let (actor_type, actor_prefix) = match actor % 10 {
            0..8 => (1, "u"),
            8 => (2, "ak"),
            _ => (3, "svc"),
        };
        let target_type = TARGET_TYPES[(target % TARGET_TYPES.len() as u64) as usize];
        let metadata_len = 100 + rng.below(401) as usize;
        Event {
            tenant,
            occurred_at,
            action,
            actor_id: format!("{actor_prefix}-{actor:04}"),
            actor_type,
            actor_name: format!("Actor {actor}"),
            actor_email: format!("actor{actor}@t{tenant:02}.example"),
            target_type,
            target_id: format!("{target_type}-{target:03}"),
            target_name: format!("{target_type} number {target}"),
            result,
            client_ip: network_address(network, host),
            user_agent: USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize],
            method: METHODS[rng.below(METHODS.len() as u64) as usize],
            path: format!("/v1/{target_type}s/{target}"),
            status_code: if result == 1 { 200 } else { 403 },
            metadata: metadata(&mut rng, metadata_len),
            request_id: format!("req-{:016x}", rng.next_u64()),
        }
    }
}

/// The address `host` in /24 network `network` (10.0.0.0/24, 10.0.1.0/24, …).
pub fn network_address(network: u64, host: u8) -> [u8; 4] {
    [10, (network / 256) as u8, (network % 256) as u8, host]
}

/// A JSON object whose compact encoding is about `length` bytes.
fn metadata(rng: &mut SplitMix64, length: usize) -> serde_json::Value {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz ";
    let base = json!({
        "region": "eu-west-1",
        "attempt": rng.below(5),
        "note": "",
    });
    // `{"attempt":N,"note":"","region":"eu-west-1"}` is 44 bytes.
    let note_len = length.saturating_sub(44);
    let note: String = (0..note_len)
        .map(|_| char::from(LETTERS[rng.below(LETTERS.len() as u64) as usize]))
        .collect();
    let mut value = base;
    value["note"] = serde_json::Value::String(note);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_add_up_and_the_largest_holds_a_quarter() {
        let set = DataSet::new(7, 1_000_000);
        assert_eq!(set.total(), 1_000_000);
        assert_eq!(set.tenant_events[0], 250_000);
        assert_eq!(set.tenant_events.len(), TENANTS);
        assert!(set.tenant_events.iter().all(|n| *n > 0));
    }

    #[test]
    fn events_are_deterministic_and_metadata_sized() {
        let set = DataSet::new(7, 1000);
        let a = set.event(0, 3, 17);
        let b = set.event(0, 3, 17);
        assert_eq!(a.request_id, b.request_id);
        assert_eq!(a.metadata, b.metadata);
        for n in 0..200 {
            let len = set.event(0, 1, n).metadata.to_string().len();
            assert!((100..=500).contains(&len), "{len}");
        }
    }

    #[test]
    fn there_are_forty_actions_in_six_prefixes() {
        let mut prefixes: Vec<&str> = ACTIONS
            .iter()
            .map(|action| &action[..action.rfind('.').unwrap_or(0)])
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(ACTIONS.len(), 40);
        assert_eq!(prefixes.len(), 6);
    }
}
