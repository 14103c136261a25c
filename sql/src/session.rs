//! A SQL session: the tables, views and settings statements define, and
//! what each statement of a script comes to — a definition, a setting, a
//! job to run (`SELECT`, `INSERT INTO`) or a plan to show (`EXPLAIN`).

use std::time::Instant;

use faro_runtime::spec::JobSpec;
use sqlparser::ast::{self as sql, Spanned};

use crate::error::{ErrorKind, SqlError};
use crate::planner::{Catalog, Planner};
use crate::script::{parse_script, ParsedStatement};
use crate::settings::Settings;
use crate::table::{object_name, TableDef};

/// Stack of the thread [`Session::execute`] plans on.
pub const PLANNING_STACK_BYTES: usize = 256 << 20;

/// What a statement came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A table or view was defined, or a setting set: what happened.
    Done(String),
    /// A job to run.
    Job(PlannedJob),
    /// `EXPLAIN`: the plan, as text.
    Explain(String),
}

/// A job a statement planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    /// The job.
    pub spec: JobSpec,
    /// `INSERT INTO` writes a table; a query's rows are collected.
    pub inserts_into: Option<String>,
    /// Microseconds planning took (parsing excluded).
    pub planning_us: u64,
}

/// Tables, views and settings across statements.
#[derive(Debug, Clone)]
pub struct Session {
    catalog: Catalog,
    settings: Settings,
}

impl Session {
    /// A session whose jobs run `parallelism` subtasks per parallel
    /// vertex unless `SET 'parallelism.default'` says otherwise.
    pub fn new(parallelism: u32) -> Self {
        Self {
            catalog: Catalog::default(),
            settings: Settings::new(parallelism),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Plans every statement of `script` in order; stops at the first
    /// error (the statements before it still took effect).
    ///
    /// Parsing, planning and dropping a statement's tree recurse as deep
    /// as the tree is (at most about [`crate::script::MAX_OPERATORS`]
    /// levels), so they run on a thread with a stack of
    /// [`PLANNING_STACK_BYTES`] (reserved, touched only as deep as used).
    pub fn execute(&mut self, script: &str) -> Result<Vec<Outcome>, SqlError> {
        let internal = |message: String| SqlError {
            kind: ErrorKind::Invalid,
            message,
            at: None,
        };
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("sql-planner".into())
                .stack_size(PLANNING_STACK_BYTES)
                .spawn_scoped(scope, || {
                    parse_script(script)?
                        .iter()
                        .map(|statement| self.statement(statement))
                        .collect()
                })
                .map_err(|e| internal(format!("starting the planner: {e}")))?
                .join()
                .map_err(|_| internal("the planner failed".to_string()))?
        })
    }

    /// One parsed statement.
    fn statement(&mut self, parsed: &ParsedStatement) -> Result<Outcome, SqlError> {
        let span = parsed.span;
        match &parsed.statement {
            sql::Statement::CreateTable(create) => {
                let table = TableDef::from_create(create, parsed.watermark.as_ref())?;
                let name = table.name.clone();
                self.define(
                    &name,
                    create.if_not_exists,
                    create.or_replace,
                    create.name.span(),
                )?;
                if create.if_not_exists && self.catalog.tables.contains_key(&name) {
                    return Ok(Outcome::Done(format!("table {name} exists")));
                }
                self.catalog.views.remove(&name);
                self.catalog.tables.insert(name.clone(), table);
                Ok(Outcome::Done(format!("table {name} created")))
            }
            sql::Statement::CreateView(view) => {
                if !view.columns.is_empty() || view.materialized {
                    return Err(SqlError::unsupported(
                        span,
                        "materialized views and view column lists",
                    ));
                }
                let name = object_name(&view.name)?;
                self.define(&name, view.if_not_exists, view.or_replace, view.name.span())?;
                // Planned once now, so a view that cannot run is refused here.
                Planner::new(&self.catalog, &self.settings).select_job(&view.query)?;
                self.catalog.tables.remove(&name);
                self.catalog
                    .views
                    .insert(name.clone(), (*view.query).clone());
                Ok(Outcome::Done(format!("view {name} created")))
            }
            sql::Statement::Set(set) => self.set(set, span),
            sql::Statement::Query(query) => Ok(Outcome::Job(self.plan_query(query)?)),
            sql::Statement::Insert(insert) => Ok(Outcome::Job(self.plan_insert(insert, span)?)),
            sql::Statement::Explain {
                statement,
                analyze: false,
                ..
            } => {
                let job = match statement.as_ref() {
                    sql::Statement::Query(query) => self.plan_query(query)?,
                    sql::Statement::Insert(insert) => self.plan_insert(insert, span)?,
                    other => {
                        return Err(SqlError::unsupported(
                            span,
                            format!("EXPLAIN of {}", first_words(other)),
                        ))
                    }
                };
                Ok(Outcome::Explain(crate::explain(&job.spec)))
            }
            other => Err(SqlError::unsupported(
                span,
                format!("the statement {}", first_words(other)),
            )),
        }
    }

    /// Refuses a name already defined, unless the statement allows it.
    fn define(
        &self,
        name: &str,
        if_not_exists: bool,
        or_replace: bool,
        span: sqlparser::tokenizer::Span,
    ) -> Result<(), SqlError> {
        let taken = self.catalog.tables.contains_key(name) || self.catalog.views.contains_key(name);
        if taken && !if_not_exists && !or_replace {
            return Err(SqlError::invalid(
                span,
                format!("{name:?} is already defined (CREATE OR REPLACE redefines it)"),
            ));
        }
        Ok(())
    }

    fn set(
        &mut self,
        set: &sql::Set,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Outcome, SqlError> {
        let sql::Set::SingleAssignment {
            variable, values, ..
        } = set
        else {
            return Err(SqlError::unsupported(span, format!("{set}")));
        };
        let key = variable.to_string().trim_matches('\'').to_string();
        let value = match values.as_slice() {
            [sql::Expr::Value(v)] => match &v.value {
                sql::Value::SingleQuotedString(s) | sql::Value::DoubleQuotedString(s) => s.clone(),
                sql::Value::Number(n, _) => n.clone(),
                other => other.to_string(),
            },
            [sql::Expr::Identifier(i)] => i.value.clone(),
            _ => {
                return Err(SqlError::invalid(
                    span,
                    format!("SET {key} needs one value"),
                ))
            }
        };
        self.settings
            .set(&key, &value)
            .map_err(|message| SqlError::new(ErrorKind::Invalid, span, message))?;
        Ok(Outcome::Done(format!("{key} = {value}")))
    }

    fn plan_query(&self, query: &sql::Query) -> Result<PlannedJob, SqlError> {
        let started = Instant::now();
        let spec = Planner::new(&self.catalog, &self.settings).select_job(query)?;
        Ok(PlannedJob {
            spec,
            inserts_into: None,
            planning_us: started.elapsed().as_micros() as u64,
        })
    }

    fn plan_insert(
        &self,
        insert: &sql::Insert,
        span: sqlparser::tokenizer::Span,
    ) -> Result<PlannedJob, SqlError> {
        let started = Instant::now();
        let sql::TableObject::TableName(name) = &insert.table else {
            return Err(SqlError::unsupported(span, "INSERT INTO a table function"));
        };
        let name = object_name(name)?;
        let table = self.table(&name, span)?;
        if !insert.columns.is_empty() || insert.partitioned.is_some() || insert.on.is_some() {
            return Err(SqlError::unsupported(
                span,
                "INSERT column lists, PARTITION and ON clauses",
            ));
        }
        let Some(source) = &insert.source else {
            return Err(SqlError::invalid(span, "INSERT INTO needs a query"));
        };
        let spec = Planner::new(&self.catalog, &self.settings).insert_job(
            table,
            source,
            insert.overwrite,
        )?;
        Ok(PlannedJob {
            spec,
            inserts_into: Some(name),
            planning_us: started.elapsed().as_micros() as u64,
        })
    }

    fn table(&self, name: &str, span: sqlparser::tokenizer::Span) -> Result<&TableDef, SqlError> {
        self.catalog.tables.get(name).ok_or_else(|| {
            SqlError::new(
                ErrorKind::UnknownName,
                span,
                format!(
                    "unknown table {name:?}{}",
                    crate::error::did_you_mean(
                        name,
                        self.catalog.tables.keys().map(String::as_str)
                    )
                ),
            )
        })
    }
}

/// A statement's first words, to name it in an error.
fn first_words(statement: &sql::Statement) -> String {
    statement
        .to_string()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
