//! Postgres query plans: a server whose database a test can also reach
//! directly, `EXPLAIN (FORMAT JSON)` of a statement, and the plan as a tree
//! of nodes with the questions the plan tests ask of it.

use crate::{Backend, TestApp};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value,
};
use serde_json::Value as Json;
use std::collections::HashMap;

/// Starts a Postgres test server and opens a second connection to its
/// database, for loading rows in bulk and for EXPLAIN.
pub async fn spawn_postgres_with_connection() -> (TestApp, DatabaseConnection) {
    let mut database_url = String::new();
    let app = TestApp::spawn_with(Backend::Postgres, |settings| {
        database_url.clone_from(&settings.database_url);
    })
    .await;
    let db = Database::connect(database_url.as_str())
        .await
        .unwrap_or_else(|error| panic!("cannot connect to the test database: {error}"));
    (app, db)
}

/// Returns the plan Postgres chooses for `sql` with `values` bound to `$1…`.
/// A scan of a partition names the partitioned table as its `relation`
/// and the partitioned index as its `index` (the partition itself is in
/// `partition`), so the rules about `audit_logs` and its indexes hold for
/// every partition.
pub async fn explain(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> PlanNode {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN (FORMAT JSON) {sql}"),
        values,
    );
    let row = db
        .query_one_raw(statement)
        .await
        .unwrap_or_else(|error| panic!("EXPLAIN failed: {error}\n{sql}"))
        .expect("EXPLAIN returns a row");
    let json: Json = row
        .try_get_by_index(0)
        .expect("EXPLAIN (FORMAT JSON) returns JSON");
    let mut plan = PlanNode::from_json(&json[0]["Plan"]);
    plan.name_partitions_by_root(&partition_roots(db).await);
    plan
}

/// A partition or partition index: the partitioned table or index at the
/// root of its tree, and whether it is a partition that the last ANALYZE
/// found empty (`reltuples` 0; -1 means never analyzed).
struct PartitionOf {
    root: String,
    empty: bool,
}

/// Returns every partition and partition index by name.
async fn partition_roots(db: &impl ConnectionTrait) -> HashMap<String, PartitionOf> {
    let statement = Statement::from_string(
        DbBackend::Postgres,
        "SELECT c.relname::text, r.relname::text, c.relkind = 'r' AND c.reltuples = 0 \
         FROM pg_class c JOIN pg_class r ON r.oid = pg_partition_root(c.oid) \
         WHERE c.relispartition",
    );
    db.query_all_raw(statement)
        .await
        .unwrap_or_else(|error| panic!("reading the partitions failed: {error}"))
        .iter()
        .map(|row| {
            let partition: String = row.try_get_by_index(0).expect("a partition name");
            let root: String = row.try_get_by_index(1).expect("its root's name");
            let empty: bool = row.try_get_by_index(2).expect("whether it is empty");
            (partition, PartitionOf { root, empty })
        })
        .collect()
}

/// Returns the plan Postgres chooses for `sql` when sorting is priced out
/// (`enable_sort` and `enable_incremental_sort` off): whether some index
/// can deliver the rows in the order asked, whatever the table's size.
pub async fn explain_without_sorting(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<Value>,
) -> PlanNode {
    let txn = db.begin().await.expect("a transaction for EXPLAIN");
    txn.execute_unprepared("SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off")
        .await
        .expect("planner settings apply");
    let plan = explain(&txn, sql, values).await;
    txn.rollback().await.expect("the EXPLAIN transaction ends");
    plan
}

/// One node of a plan, with the fields the plan tests look at.
#[derive(Debug, Clone)]
pub struct PlanNode {
    /// `Seq Scan`, `Index Scan`, `Sort`, `Limit`, …
    pub node_type: String,
    /// The table read; for a partition, its partitioned table.
    pub relation: Option<String>,
    /// The partition read, when `relation` is partitioned.
    pub partition: Option<String>,
    /// The partition read held no rows at the last ANALYZE: reading it
    /// costs nothing, however it is read (the planner often picks a
    /// sequential scan of such a partition, rightly).
    pub empty_partition: bool,
    /// The index read; for a partition's index, the partitioned index.
    pub index: Option<String>,
    /// `Sorted` or `Hashed` for an aggregate.
    pub strategy: Option<String>,
    /// `Backward` for an index read from its end.
    pub direction: Option<String>,
    pub index_cond: Option<String>,
    /// Rows read and then discarded by this condition.
    pub filter: Option<String>,
    pub children: Vec<PlanNode>,
}

impl PlanNode {
    fn from_json(json: &Json) -> Self {
        let text = |key: &str| json.get(key).and_then(Json::as_str).map(str::to_owned);
        Self {
            node_type: text("Node Type").unwrap_or_default(),
            relation: text("Relation Name"),
            partition: None,
            empty_partition: false,
            index: text("Index Name"),
            strategy: text("Strategy"),
            direction: text("Scan Direction"),
            index_cond: text("Index Cond").or_else(|| text("Recheck Cond")),
            filter: text("Filter"),
            children: json
                .get("Plans")
                .and_then(Json::as_array)
                .map(|plans| plans.iter().map(Self::from_json).collect())
                .unwrap_or_default(),
        }
    }

    /// Renames partitions and their indexes after their roots.
    fn name_partitions_by_root(&mut self, roots: &HashMap<String, PartitionOf>) {
        if let Some(of) = self.relation.as_ref().and_then(|name| roots.get(name)) {
            self.partition = self.relation.replace(of.root.clone());
            self.empty_partition = of.empty;
        }
        if let Some(of) = self.index.as_ref().and_then(|name| roots.get(name)) {
            self.index = Some(of.root.clone());
        }
        for child in &mut self.children {
            child.name_partitions_by_root(roots);
        }
    }

    /// Returns the partitions this plan reads, in plan order.
    pub fn partitions_read(&self) -> Vec<&str> {
        self.nodes()
            .into_iter()
            .filter_map(|node| node.partition.as_deref())
            .collect()
    }

    /// Returns this node and every node below it, depth first.
    pub fn nodes(&self) -> Vec<&PlanNode> {
        let mut nodes = vec![self];
        for child in &self.children {
            nodes.extend(child.nodes());
        }
        nodes
    }

    /// Returns the nodes that read rows of `table` (sequential, index,
    /// index-only and bitmap heap scans).
    pub fn scans_of(&self, table: &str) -> Vec<&PlanNode> {
        self.nodes()
            .into_iter()
            .filter(|node| node.relation.as_deref() == Some(table))
            .collect()
    }

    /// Returns the scans of `table` that read rows: every scan but those of
    /// partitions found empty.
    pub fn scans_of_rows(&self, table: &str) -> Vec<&PlanNode> {
        self.scans_of(table)
            .into_iter()
            .filter(|scan| !scan.empty_partition)
            .collect()
    }

    /// Returns the indexes a scan reads: its own, or those of the bitmap
    /// index scans below a bitmap heap scan.
    pub fn indexes(&self) -> Vec<&str> {
        self.nodes()
            .into_iter()
            .filter_map(|node| node.index.as_deref())
            .collect()
    }

    /// Returns whether this is a sort (full, top-N or incremental).
    pub fn is_sort(&self) -> bool {
        self.node_type.ends_with("Sort")
    }

    /// Returns whether a sort orders rows of `table` themselves, that is a
    /// scan of `table` lies below it with no aggregate or limit in between (a sort of
    /// aggregated groups is not a sort of the table). With
    /// `except_for_grouping`, a sort feeding a sorted (group) aggregate is
    /// accepted.
    pub fn sorts_rows_of(&self, table: &str, except_for_grouping: bool) -> bool {
        self.sorts_rows_below(None, table, except_for_grouping)
    }

    fn sorts_rows_below(&self, parent: Option<&PlanNode>, table: &str, exempt_group: bool) -> bool {
        let exempt = exempt_group && parent.is_some_and(|parent| parent.node_type == "Aggregate");
        let sorts_here = self.is_sort()
            && !exempt
            && self.children.iter().any(|child| child.feeds_rows_of(table));
        sorts_here
            || self
                .children
                .iter()
                .any(|child| child.sorts_rows_below(Some(self), table, exempt_group))
    }

    /// Whether rows of `table` reach this node as rows. An aggregate turns
    /// them into groups, and a limit caps them: a sort above a `Limit` (the
    /// merge of one limited scan per tenant, say) orders at most that many
    /// rows per loop, whatever the table's size. A partition found empty
    /// feeds none.
    fn feeds_rows_of(&self, table: &str) -> bool {
        if self.relation.as_deref() == Some(table) {
            return !self.empty_partition;
        }
        !matches!(self.node_type.as_str(), "Aggregate" | "Limit")
            && self.children.iter().any(|child| child.feeds_rows_of(table))
    }

    /// Returns the plan on one line: `Limit > Index Scan Backward using
    /// audit_logs_actor_id_idx on audit_logs [cond …] [filter …]`, branches
    /// in parentheses.
    pub fn summary(&self) -> String {
        let mut line = match self.strategy.as_deref() {
            Some("Sorted") => "GroupAggregate".to_owned(),
            Some("Hashed") => "HashAggregate".to_owned(),
            _ => self.node_type.clone(),
        };
        if self.direction.as_deref() == Some("Backward") {
            line.push_str(" Backward");
        }
        if let Some(index) = &self.index {
            line.push_str(&format!(" using {index}"));
        }
        if let Some(relation) = &self.relation {
            line.push_str(&format!(" on {relation}"));
        }
        if let Some(partition) = &self.partition {
            let empty = if self.empty_partition { ", empty" } else { "" };
            line.push_str(&format!(" ({partition}{empty})"));
        }
        if let Some(cond) = &self.index_cond {
            line.push_str(&format!(" [cond {cond}]"));
        }
        if let Some(filter) = &self.filter {
            line.push_str(&format!(" [filter {filter}]"));
        }
        match self.children.as_slice() {
            [] => line,
            [only] => format!("{line} > {}", only.summary()),
            many => {
                let branches: Vec<String> = many.iter().map(PlanNode::summary).collect();
                format!("{line} > ({})", branches.join(" | "))
            }
        }
    }
}
