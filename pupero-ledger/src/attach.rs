//! Statements of the caller that commit together with a ledger plan, or not at all.
//!
//! A trade and its escrow must never exist one without the other, and a trade's step must
//! happen once even when two requests race: so the server's row changes (insert the trade,
//! compare-and-set its version, write its events) run inside the very transaction in which the
//! writer applies the ledger plan. See [`crate::SqlLedger::transfer_attached`].

use std::any::Any;

use async_trait::async_trait;
use sqlx::AnyConnection;

use crate::dialect::Engine;

/// Why an [`Attachment`] did not let its transaction commit.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// The caller's own rule said no (a compare-and-set lost, a limit was reached): nothing is
    /// written. The reason is the caller's stable code.
    #[error("aborted: {0}")]
    Abort(&'static str),
    /// A statement failed; the transaction is rolled back (and retried when the failure is a
    /// deadlock or a busy database, so statements must be safe to run again).
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Row changes that belong to a ledger plan.
#[async_trait]
pub trait Attachment: Send + Sync + 'static {
    /// Runs in the writer's transaction after the ledger accepted every transfer of the plan and
    /// before anything is written. Returning an error rolls back the plan and these statements.
    /// May run more than once: if the transaction is retried, or if another command of its
    /// group commit aborted and the group is applied again without it.
    ///
    /// Rows that need no answer before the commit (events, say) are better added to one of the
    /// group's `batches` than written here: a batch writes the rows of every attachment of the
    /// group in one statement, where each attachment writing its own would cost one each.
    async fn run(
        &self,
        conn: &mut AnyConnection,
        engine: Engine,
        batches: &mut Batches,
    ) -> Result<(), AttachmentError>;
}

/// A value bound to a [`Statement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// What a deferred [`Statement`] must do, or the command that deferred it aborts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Nothing in particular (a batch's rows).
    Nothing,
    /// Exactly one row changed (a compare-and-set, a conditional insert); otherwise the command
    /// aborts with this code.
    OneRow(&'static str),
    /// No unique key violated (a key used once); otherwise the command aborts with this code.
    Unique(&'static str),
}

/// A write left for the writer to run with the rest of its group's writes, after every
/// attachment of the group ran, by [`Statement::phase`] and in the order they were deferred
/// within a phase, then the batches', then the ledger's own. An attachment that only writes
/// defers its statements instead of running them, and says with [`Expect`] when its command
/// must abort: a statement's outcome needs no answer before the group's other attachments run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub(crate) sql: String,
    pub(crate) values: Vec<Value>,
    pub(crate) expect: Expect,
    pub(crate) phase: u8,
}

impl Statement {
    /// `sql`, with a `?` for each value bound with [`Statement::bind`] (values are never
    /// formatted into the text). One statement, without a trailing `;`.
    pub fn new(sql: impl Into<String>) -> Statement {
        let sql = sql.into();
        debug_assert!(!sql.trim_end().ends_with(';'), "one statement, no `;`");
        Statement {
            sql,
            values: Vec::new(),
            expect: Expect::Nothing,
            phase: 0,
        }
    }

    /// Runs the statement in `phase` of its group (0 unless set): the group's deferred
    /// statements run phase by phase, each phase's in the order deferred. Statements of one
    /// kind put in one phase run next to each other, which lets the writer send them to the
    /// database together. A command defers its own statements in phase order. Across commands
    /// the order changes: a statement that reads what another command's statements of a later
    /// phase write must be one that may only refuse more by running first (a limit counted
    /// before a release that lowers it), never accept more.
    #[must_use]
    pub fn phase(mut self, phase: u8) -> Statement {
        self.phase = phase;
        self
    }

    /// Binds the next `?`.
    #[must_use]
    pub fn bind(mut self, value: impl Into<Value>) -> Statement {
        self.values.push(value.into());
        self
    }

    /// The statement as a query of its own, to run outside a group.
    pub fn query(&self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        bind(
            sqlx::query(sqlx::AssertSqlSafe(self.sql.clone())),
            &self.values,
        )
    }

    /// What the statement must do ([`Expect`]).
    #[must_use]
    pub fn expect(mut self, expect: Expect) -> Statement {
        self.expect = expect;
        self
    }
}

/// Binds `values` to the next placeholders of `query`.
pub(crate) fn bind<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    values: &[Value],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for value in values {
        query = match value {
            Value::Null => query.bind(None::<i64>),
            Value::Int(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
        };
    }
    query
}

/// Rows that the attachments of one group commit gather, to be written together after the last
/// of them ran (see [`Batches`]).
pub trait Batch: Any + Send {
    /// The statements that write the rows gathered, run in the group's transaction. An error
    /// fails the group.
    fn statements(&mut self, engine: Engine) -> Result<Vec<Statement>, sqlx::Error>;
}

/// What the attachments of one group commit leave to write together: [`Statement`]s each
/// deferred by one command ([`Batches::defer`]), and batches, at most one of each type, written
/// after every attachment of the group ran and before the ledger's own rows, in the order each
/// was first asked for. They start empty on every attempt at the group, so an aborted or
/// retried pass leaves nothing behind.
#[derive(Default)]
pub struct Batches {
    batches: Vec<Box<dyn Batch>>,
    /// The command whose attachment is running.
    command: usize,
    deferred: Vec<(usize, Statement)>,
}

impl Batches {
    /// The group's batch of type `B`, started empty by the first attachment that asks.
    pub fn get<B: Batch + Default>(&mut self) -> &mut B {
        let index = match self.batches.iter().position(|b| {
            let any: &dyn Any = &**b;
            any.is::<B>()
        }) {
            Some(index) => index,
            None => {
                self.batches.push(Box::new(B::default()));
                self.batches.len() - 1
            }
        };
        let any: &mut dyn Any = &mut *self.batches[index];
        any.downcast_mut::<B>()
            .expect("the batch at this index is a B")
    }

    /// Leaves `statement` to run with the group's writes. When it does not do what it
    /// [`Expect`]s, the command whose attachment deferred it aborts with the code, and the group
    /// is applied again without it, like an abort returned by [`Attachment::run`].
    pub fn defer(&mut self, statement: Statement) {
        debug_assert!(
            self.deferred
                .iter()
                .rev()
                .take_while(|(command, _)| *command == self.command)
                .all(|(_, earlier)| earlier.phase <= statement.phase),
            "a command defers its statements in phase order"
        );
        self.deferred.push((self.command, statement));
    }

    /// Marks the statements deferred from now on as `command`'s.
    pub(crate) fn running(&mut self, command: usize) {
        self.command = command;
    }

    /// The group's statements, in order (deferred ones by phase): each with the command that
    /// deferred it, if any.
    pub(crate) fn into_script(
        self,
        engine: Engine,
    ) -> Result<Vec<(Option<usize>, Statement)>, sqlx::Error> {
        let mut deferred = self.deferred;
        // Stable: within a phase, the order deferred.
        deferred.sort_by_key(|(_, statement)| statement.phase);
        let mut script: Vec<(Option<usize>, Statement)> = deferred
            .into_iter()
            .map(|(command, statement)| (Some(command), statement))
            .collect();
        for mut batch in self.batches {
            script.extend(batch.statements(engine)?.into_iter().map(|s| (None, s)));
        }
        Ok(script)
    }

    /// Whether any attachment deferred a statement or asked for a batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty() && self.deferred.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_statements_run_by_phase_then_in_the_order_deferred() {
        let mut batches = Batches::default();
        batches.running(0);
        batches.defer(Statement::new("a0").phase(1));
        batches.defer(Statement::new("a1").phase(2));
        batches.running(1);
        batches.defer(Statement::new("b0").phase(0));
        batches.defer(Statement::new("b1").phase(1));
        batches.running(2);
        batches.defer(Statement::new("c0").phase(1));
        let script = batches.into_script(Engine::Sqlite).expect("no batches");
        let order: Vec<(Option<usize>, &str)> = script
            .iter()
            .map(|(command, statement)| (*command, statement.sql.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (Some(1), "b0"),
                (Some(0), "a0"),
                (Some(1), "b1"),
                (Some(2), "c0"),
                (Some(0), "a1"),
            ]
        );
    }
}
