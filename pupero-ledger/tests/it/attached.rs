//! A plan and the caller's statements commit together or not at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use pupero_core::TransferId;
use pupero_core::ledger::LedgerStore;
use pupero_ledger::{Attachment, AttachmentError, Batch, Batches, Engine, Expect, Statement};
use sqlx::{AnyConnection, AnyPool};

use crate::support::{TestLedger, ledger_test, single};

const AMOUNT: u64 = 1_000_000_000;
/// Attached commands racing for one compare-and-set.
const RACERS: usize = 40;

async fn scratch(t: &TestLedger) -> AnyPool {
    let (_, pool) = pupero_ledger::open_pool(&t.url, 2).await.expect("pool");
    sqlx::query("CREATE TABLE attach_rows (id VARCHAR(64) PRIMARY KEY, version BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .expect("scratch table");
    pool
}

async fn row_version(pool: &AnyPool, id: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT version FROM attach_rows WHERE id = ?")
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await
        .expect("select")
}

async fn exists(t: &TestLedger, id: TransferId) -> bool {
    !t.ledger.lookup_transfers(&[id]).await.unwrap().is_empty()
}

/// Inserts a row (itself, or through the group's batch), then aborts if told to.
struct Insert {
    id: String,
    abort: bool,
    batched: bool,
    runs: Arc<AtomicU32>,
}

/// Rows the group's attachments left to write together.
#[derive(Default)]
struct Rows(Vec<String>);

impl Batch for Rows {
    fn statements(&mut self, _: Engine) -> Result<Vec<Statement>, sqlx::Error> {
        let values = vec!["(?, 0)"; self.0.len()].join(", ");
        let mut statement = Statement::new(format!(
            "INSERT INTO attach_rows (id, version) VALUES {values}"
        ));
        for id in &self.0 {
            statement = statement.bind(id.clone());
        }
        Ok(vec![statement])
    }
}

#[async_trait]
impl Attachment for Insert {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if self.batched {
            batches.get::<Rows>().0.push(self.id.clone());
        } else {
            sqlx::query("INSERT INTO attach_rows (id, version) VALUES (?, 0)")
                .bind(self.id.clone())
                .execute(&mut *conn)
                .await?;
        }
        if self.abort {
            return Err(AttachmentError::Abort("told_to"));
        }
        Ok(())
    }
}

/// Moves a row from `expected` to `expected + 1`, or aborts: itself, or through a statement it
/// defers to the group's writes.
struct CompareAndSet {
    id: String,
    expected: i64,
    deferred: bool,
}

#[async_trait]
impl Attachment for CompareAndSet {
    async fn run(
        &self,
        conn: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        let sql = "UPDATE attach_rows SET version = ? WHERE id = ? AND version = ?";
        if self.deferred {
            batches.defer(
                Statement::new(sql)
                    .bind(self.expected + 1)
                    .bind(self.id.clone())
                    .bind(self.expected)
                    .expect(Expect::OneRow("version_moved")),
            );
            return Ok(());
        }
        let done = sqlx::query(sql)
            .bind(self.expected + 1)
            .bind(self.id.clone())
            .bind(self.expected)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(AttachmentError::Abort("version_moved"))
        }
    }
}

/// Claims a key once, through a deferred insert.
struct Claim {
    id: String,
}

#[async_trait]
impl Attachment for Claim {
    async fn run(
        &self,
        _: &mut AnyConnection,
        _: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError> {
        batches.defer(
            Statement::new("INSERT INTO attach_rows (id, version) VALUES (?, 0)")
                .bind(self.id.clone())
                .expect(Expect::Unique("taken")),
        );
        Ok(())
    }
}

ledger_test!(plan_and_rows_commit_together, |t| {
    let pool = scratch(&t).await;
    let op = t.operator().await;
    let payer = t.user(op, AMOUNT).await;
    let payee = t.user(op, 0).await;
    let runs = Arc::new(AtomicU32::new(0));
    let transfer = single(payer, payee, AMOUNT);
    let id = transfer.id;
    let attachment = Insert {
        id: "a".into(),
        abort: false,
        batched: false,
        runs: runs.clone(),
    };
    t.ledger
        .transfer_attached(vec![transfer], attachment)
        .await
        .expect("committed");
    assert_eq!(row_version(&pool, "a").await, Some(0));
    assert!(exists(&t, id).await);
    assert_eq!(t.available(payee).await, AMOUNT);
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // An empty plan commits the statements alone.
    let attachment = Insert {
        id: "b".into(),
        abort: false,
        batched: true,
        runs,
    };
    t.ledger
        .transfer_attached(Vec::new(), attachment)
        .await
        .expect("committed");
    assert_eq!(row_version(&pool, "b").await, Some(0));
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(an_abort_writes_nothing, |t| {
    let pool = scratch(&t).await;
    let op = t.operator().await;
    let payer = t.user(op, AMOUNT).await;
    let payee = t.user(op, 0).await;
    let transfer = single(payer, payee, AMOUNT);
    let id = transfer.id;
    let attachment = Insert {
        id: "a".into(),
        abort: true,
        batched: false,
        runs: Arc::new(AtomicU32::new(0)),
    };
    let error = t
        .ledger
        .transfer_attached(vec![transfer], attachment)
        .await
        .unwrap_err();
    assert!(
        matches!(error, pupero_ledger::Error::Aborted("told_to")),
        "{error:?}"
    );
    assert_eq!(
        row_version(&pool, "a").await,
        None,
        "the row is rolled back"
    );
    assert!(!exists(&t, id).await, "so is the plan");
    assert_eq!(t.available(payer).await, AMOUNT);
});

ledger_test!(a_refused_plan_never_runs_the_statements, |t| {
    let pool = scratch(&t).await;
    let op = t.operator().await;
    let payer = t.user(op, AMOUNT).await;
    let payee = t.user(op, 0).await;
    let runs = Arc::new(AtomicU32::new(0));
    let attachment = Insert {
        id: "a".into(),
        abort: false,
        batched: false,
        runs: runs.clone(),
    };
    let plan = vec![single(payer, payee, AMOUNT), single(payer, payee, 1)];
    let error = t
        .ledger
        .transfer_attached(plan, attachment)
        .await
        .unwrap_err();
    assert!(error.is_insufficient_funds(), "{error:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(row_version(&pool, "a").await, None);
    assert_eq!(
        t.available(payer).await,
        AMOUNT,
        "the linked plan is all or nothing"
    );
});

ledger_test!(one_compare_and_set_wins_a_race, |t| {
    let pool = scratch(&t).await;
    sqlx::query("INSERT INTO attach_rows (id, version) VALUES ('cas', 0)")
        .execute(&pool)
        .await
        .unwrap();
    let op = t.operator().await;
    let payer = t.user(op, AMOUNT * 100).await;
    let payee = t.user(op, 0).await;
    // Two writers, as two processes; plain transfers race alongside the attached ones.
    let writers = [t.ledger.clone(), t.reopen().await];
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let ledger = writers[i % 2].clone();
        let plan = vec![single(payer, payee, AMOUNT)];
        let cas = CompareAndSet {
            id: "cas".into(),
            expected: 0,
            // Racing against each other in one group, and against statements run at once.
            deferred: i % 3 != 0,
        };
        tasks.push(tokio::spawn(async move {
            ledger.transfer_attached(plan, cas).await.map(|_| ())
        }));
        let ledger = writers[(i + 1) % 2].clone();
        let plain = single(payer, payee, 1);
        tasks.push(tokio::spawn(async move {
            ledger.transfer(plain).await.map(|_| ())
        }));
    }
    let mut won = 0;
    let mut lost = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(pupero_ledger::Error::Aborted("version_moved")) => lost += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        won,
        RACERS + 1,
        "every plain transfer and one attached plan"
    );
    assert_eq!(lost, RACERS - 1);
    assert_eq!(row_version(&pool, "cas").await, Some(1));
    let racers = u64::try_from(RACERS).unwrap();
    assert_eq!(t.available(payee).await, AMOUNT + racers);
    t.ledger.check_invariants().await.unwrap();
});

ledger_test!(
    in_a_group_an_abort_or_refusal_undoes_only_its_own_command,
    |t| {
        let pool = scratch(&t).await;
        let op = t.operator().await;
        let payer = t.user(op, AMOUNT * 100).await;
        let payee = t.user(op, 0).await;
        let runs = Arc::new(AtomicU32::new(0));
        // Sent at once, so that the writer finds them queued and commits them in groups: every
        // third aborts after writing its row, every fifth asks for more than the payer has, and
        // every other one leaves its row to the group's batch.
        let mut tasks = Vec::new();
        for i in 0..RACERS {
            let ledger = t.ledger.clone();
            let amount = if i % 5 == 4 { AMOUNT * 1_000 } else { AMOUNT };
            let transfer = single(payer, payee, amount);
            let id = transfer.id;
            let attachment = Insert {
                id: format!("row{i}"),
                abort: i % 3 == 2,
                batched: i % 2 == 0,
                runs: runs.clone(),
            };
            tasks.push(tokio::spawn(async move {
                (
                    i,
                    id,
                    ledger.transfer_attached(vec![transfer], attachment).await,
                )
            }));
        }
        let mut committed = 0_u64;
        for task in tasks {
            let (i, id, result) = task.await.unwrap();
            let row = row_version(&pool, &format!("row{i}")).await;
            match result {
                Ok(_) => {
                    assert!(i % 3 != 2 && i % 5 != 4, "command {i} committed");
                    assert_eq!(row, Some(0), "the row of {i} is written");
                    assert!(exists(&t, id).await, "the transfer of {i} is written");
                    committed += 1;
                }
                Err(pupero_ledger::Error::Aborted("told_to")) => {
                    assert!(i % 5 != 4 && i % 3 == 2, "command {i} aborted");
                    assert_eq!(row, None, "the aborted row of {i} is rolled back");
                    assert!(!exists(&t, id).await, "so is the plan of {i}");
                }
                Err(error) => {
                    assert!(error.is_insufficient_funds(), "{i}: {error:?}");
                    assert_eq!(i % 5, 4, "command {i} refused");
                    assert_eq!(row, None, "a refused plan runs no statements");
                    assert!(!exists(&t, id).await);
                }
            }
        }
        assert_eq!(t.available(payee).await, AMOUNT * committed);
        assert_eq!(t.available(payer).await, AMOUNT * (100 - committed));
        assert!(runs.load(Ordering::SeqCst) >= u32::try_from(committed).unwrap());
        t.ledger.check_invariants().await.unwrap();
    }
);

ledger_test!(a_deferred_key_is_claimed_once, |t| {
    let pool = scratch(&t).await;
    let op = t.operator().await;
    let payer = t.user(op, AMOUNT * 100).await;
    let payee = t.user(op, 0).await;
    let writers = [t.ledger.clone(), t.reopen().await];
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let ledger = writers[i % 2].clone();
        let plan = vec![single(payer, payee, AMOUNT)];
        let claim = Claim { id: "key".into() };
        tasks.push(tokio::spawn(async move {
            ledger.transfer_attached(plan, claim).await.map(|_| ())
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(pupero_ledger::Error::Aborted("taken")) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "one claim of the key, and its plan only");
    assert_eq!(row_version(&pool, "key").await, Some(0));
    assert_eq!(t.available(payee).await, AMOUNT);
    t.ledger.check_invariants().await.unwrap();
});
