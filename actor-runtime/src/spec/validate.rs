//! Validation: everything that can be known about a job before it runs
//! is checked here, as pure functions of the spec: ids, operators and
//! their parameters, parallelism, edges, cycles, and — walking the graph in
//! topological order — every vertex's output schema, with each expression
//! and column reference checked against the schema that will reach it.

use std::collections::{HashMap, HashSet};

use super::error::SpecError;
use super::job::{EdgeSpec, JobSpec, Partitioning};
use super::limits;
use super::operators::{AggregateFunction, JoinKind, OperatorSpec};
use crate::data::{DataType, Field, Schema};
use crate::expr::{Expr, ExprError, Ty};

/// A vertex that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidVertex {
    /// Its id.
    pub id: String,
    /// Its typed operator.
    pub operator: OperatorSpec,
    /// Parallel instances.
    pub parallelism: u32,
    /// Indexes into [`ValidJob::edges`] of its inputs, in input order
    /// (for a join: left, then right).
    pub inputs: Vec<usize>,
    /// The schema of each input, in input order.
    pub input_schemas: Vec<Schema>,
    /// The schema of its output.
    pub output: Schema,
}

/// A job that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidJob {
    /// The spec it was validated from (what deployments carry).
    pub spec: JobSpec,
    /// The job's name.
    pub name: String,
    /// Its vertices, in spec order.
    pub vertices: Vec<ValidVertex>,
    /// Its edges, in spec order.
    pub edges: Vec<EdgeSpec>,
    /// Vertex indexes, producers before consumers.
    pub order: Vec<usize>,
}

impl ValidJob {
    /// The index of vertex `id`.
    pub fn vertex_index(&self, id: &str) -> Option<usize> {
        self.vertices.iter().position(|v| v.id == id)
    }
}

fn expr_error(place: String) -> impl FnOnce(ExprError) -> SpecError {
    move |error| SpecError::Expr { place, error }
}

fn vertex_place(id: &str) -> String {
    format!("vertex {id:?}")
}

/// Checks `spec` and works out every vertex's schema.
pub fn validate(spec: &JobSpec) -> Result<ValidJob, SpecError> {
    if spec.vertices.is_empty() {
        return Err(SpecError::Empty);
    }
    limits::check_shape(spec)?;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut operators = Vec::with_capacity(spec.vertices.len());
    for (i, vertex) in spec.vertices.iter().enumerate() {
        if index.insert(vertex.id.as_str(), i).is_some() {
            return Err(SpecError::DuplicateVertex(vertex.id.clone()));
        }
        if vertex.parallelism == 0 {
            return Err(SpecError::ZeroParallelism(vertex.id.clone()));
        }
        operators.push(OperatorSpec::parse(
            &vertex.id,
            &vertex.operator,
            &vertex.params,
        )?);
    }
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); spec.vertices.len()];
    for (e, edge) in spec.edges.iter().enumerate() {
        let endpoint = |id: &String| {
            index
                .get(id.as_str())
                .copied()
                .ok_or_else(|| SpecError::UnknownVertex {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    missing: id.clone(),
                })
        };
        let (from, to) = (endpoint(&edge.from)?, endpoint(&edge.to)?);
        let (fp, tp) = (
            spec.vertices[from].parallelism,
            spec.vertices[to].parallelism,
        );
        if edge.partitioning == Partitioning::Forward && fp != tp {
            return Err(SpecError::ForwardParallelism {
                from: edge.from.clone(),
                to: edge.to.clone(),
                from_parallelism: fp,
                to_parallelism: tp,
            });
        }
        inputs[to].push(e);
    }
    let order = topological_order(spec, &index)?;

    let mut outputs: Vec<Option<Schema>> = vec![None; spec.vertices.len()];
    let mut vertices: Vec<Option<ValidVertex>> = vec![None; spec.vertices.len()];
    for &v in &order {
        let vertex = &spec.vertices[v];
        let operator = operators[v].clone();
        let (min, max) = operator.inputs();
        let mut edges = inputs[v].clone();
        if edges.len() < min || edges.len() > max {
            let expected = match (min, max) {
                (a, b) if a == b => a.to_string(),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(SpecError::InputCount {
                vertex: vertex.id.clone(),
                operator: vertex.operator.clone(),
                expected,
                actual: edges.len(),
            });
        }
        if let OperatorSpec::HashJoin(join) = &operator {
            edges = join_inputs(&vertex.id, join, &spec.edges, &edges)?;
        }
        let input_schemas: Vec<Schema> = edges
            .iter()
            .map(|&e| {
                let from = index[spec.edges[e].from.as_str()];
                outputs[from].clone().unwrap_or_default()
            })
            .collect();
        for (k, &e) in edges.iter().enumerate() {
            check_partitioning(&spec.edges[e], &input_schemas[k])?;
        }
        let output = output_schema(&vertex.id, &operator, &input_schemas)?;
        outputs[v] = Some(output.clone());
        vertices[v] = Some(ValidVertex {
            id: vertex.id.clone(),
            operator,
            parallelism: vertex.parallelism,
            inputs: edges,
            input_schemas,
            output,
        });
    }
    Ok(ValidJob {
        spec: spec.clone(),
        name: spec.name.clone(),
        vertices: vertices.into_iter().flatten().collect(),
        edges: spec.edges.clone(),
        order,
    })
}

/// Kahn's algorithm; a leftover vertex lies on (or behind) a cycle.
fn topological_order(
    spec: &JobSpec,
    index: &HashMap<&str, usize>,
) -> Result<Vec<usize>, SpecError> {
    let n = spec.vertices.len();
    let mut indegree = vec![0usize; n];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for edge in &spec.edges {
        let (from, to) = (index[edge.from.as_str()], index[edge.to.as_str()]);
        next[from].push(to);
        indegree[to] += 1;
    }
    let mut ready: Vec<usize> = (0..n).rev().filter(|&v| indegree[v] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(v) = ready.pop() {
        order.push(v);
        for &w in &next[v] {
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    if order.len() < n {
        let placed: HashSet<usize> = order.iter().copied().collect();
        let stuck: Vec<&str> = (0..n)
            .filter(|v| !placed.contains(v))
            .map(|v| spec.vertices[v].id.as_str())
            .collect();
        return Err(SpecError::Cycle(stuck.join(" -> ")));
    }
    Ok(order)
}

fn join_inputs(
    id: &str,
    join: &super::operators::JoinParams,
    edges: &[EdgeSpec],
    inputs: &[usize],
) -> Result<Vec<usize>, SpecError> {
    let find = |side: &str| {
        inputs
            .iter()
            .copied()
            .find(|&e| edges[e].from == side)
            .ok_or_else(|| SpecError::BadParams {
                vertex: id.to_string(),
                message: format!("no edge from {side:?} into this join"),
            })
    };
    let (left, right) = (find(&join.left)?, find(&join.right)?);
    if left == right {
        return Err(SpecError::BadParams {
            vertex: id.to_string(),
            message: "left and right must be different inputs".into(),
        });
    }
    Ok(vec![left, right])
}

fn check_partitioning(edge: &EdgeSpec, schema: &Schema) -> Result<(), SpecError> {
    let (Partitioning::Hash(columns) | Partitioning::Range(columns)) = &edge.partitioning else {
        return Ok(());
    };
    let place = format!("edge {:?} -> {:?}", edge.from, edge.to);
    if columns.is_empty() {
        return Err(SpecError::Schema {
            place,
            message: "hash and range partitioning need at least one column".into(),
        });
    }
    for column in columns {
        column_index(&place, schema, column)?;
    }
    Ok(())
}

fn column_index(place: &str, schema: &Schema, name: &str) -> Result<usize, SpecError> {
    schema.index_of(name).ok_or_else(|| SpecError::Expr {
        place: place.to_string(),
        error: ExprError::unknown_column(name, schema),
    })
}

/// The schema `generate`'s expressions see: the row index.
pub fn generate_input_schema() -> Schema {
    Schema::new(vec![Field::new("i", DataType::Int64)])
}

/// The output schema of an aggregate function over an argument.
pub fn aggregate_field(
    place: &str,
    name: &str,
    function: AggregateFunction,
    arg: Option<&Expr>,
) -> Result<Field, SpecError> {
    use AggregateFunction as A;
    let ty = arg.map(Expr::ty);
    let bad = |message: String| SpecError::Schema {
        place: place.to_string(),
        message,
    };
    Ok(match (function, ty) {
        (A::Count | A::CountDistinct, _) => Field::new(name, DataType::Int64),
        (_, None) => return Err(bad(format!("{name}: {function:?} needs an expression"))),
        (A::Sum, Some(Ty::Int64)) => Field::nullable(name, DataType::Int64),
        (A::Sum | A::Avg, Some(Ty::Float64)) | (A::Avg, Some(Ty::Int64)) => {
            Field::nullable(name, DataType::Float64)
        }
        (A::Min | A::Max, Some(ty)) if ty != Ty::Null => Field::nullable(name, ty.data_type()),
        (function, Some(ty)) => {
            return Err(bad(format!(
                "{name}: cannot take {function:?} of {ty} values"
            )))
        }
    })
}

fn output_schema(
    id: &str,
    operator: &OperatorSpec,
    inputs: &[Schema],
) -> Result<Schema, SpecError> {
    let place = vertex_place(id);
    let input = inputs.first().cloned().unwrap_or_default();
    let compile = |text: &str, schema: &Schema| {
        Expr::compile(text, schema).map_err(expr_error(place.clone()))
    };
    Ok(match operator {
        OperatorSpec::Generate(params) => {
            limits::check_batch_rows(id, params.batch_rows)?;
            limits::check_columns(id, params.columns.len())?;
            let schema = generate_input_schema();
            let fields = params
                .columns
                .iter()
                .map(|c| compile(&c.expr, &schema).map(|e| e.field(&c.name)))
                .collect::<Result<Vec<_>, _>>()?;
            unique_names(&place, Schema::new(fields))?
        }
        OperatorSpec::Read(params) => {
            limits::check_batch_rows(id, params.batch_rows)?;
            let one_text =
                matches!(params.schema.fields.as_slice(), [f] if f.data_type == DataType::Utf8);
            if params.format == super::operators::FileFormat::Text && !one_text {
                return Err(SpecError::Schema {
                    place,
                    message: "text files are read into exactly one utf8 column".into(),
                });
            }
            unique_names(&place, params.schema.clone())?
        }
        OperatorSpec::Filter(params) => {
            let predicate = compile(&params.predicate, &input)?;
            if predicate.ty() != Ty::Bool {
                return Err(SpecError::Expr {
                    place,
                    error: ExprError::TypeMismatch {
                        message: format!(
                            "the predicate {:?} is {}, not bool",
                            crate::expr::excerpt(&params.predicate),
                            predicate.ty()
                        ),
                    },
                });
            }
            input
        }
        OperatorSpec::Project(params) => {
            limits::check_columns(id, params.columns.len())?;
            let fields = params
                .columns
                .iter()
                .map(|c| compile(&c.expr, &input).map(|e| e.field(&c.name)))
                .collect::<Result<Vec<_>, _>>()?;
            unique_names(&place, Schema::new(fields))?
        }
        OperatorSpec::Explode(params) => {
            let index = column_index(&place, &input, &params.column)?;
            if input.fields[index].data_type != DataType::Utf8 {
                return Err(SpecError::Schema {
                    place,
                    message: format!(
                        "explode needs a utf8 column, {} is {}",
                        params.column, input.fields[index].data_type
                    ),
                });
            }
            let mut fields = input.fields.clone();
            fields[index] = Field::new(
                params.into.as_deref().unwrap_or(&params.column),
                DataType::Utf8,
            );
            unique_names(&place, Schema::new(fields))?
        }
        OperatorSpec::Aggregate(params) => {
            let mut fields = Vec::new();
            for key in &params.group_by {
                fields.push(input.fields[column_index(&place, &input, key)?].clone());
            }
            for aggregate in &params.aggregates {
                let arg = aggregate
                    .expr
                    .as_deref()
                    .map(|e| compile(e, &input))
                    .transpose()?;
                fields.push(aggregate_field(
                    &place,
                    &aggregate.name,
                    aggregate.function,
                    arg.as_ref(),
                )?);
            }
            unique_names(&place, Schema::new(fields))?
        }
        OperatorSpec::Sort(params) => {
            for key in &params.keys {
                column_index(&place, &input, &key.column)?;
            }
            input
        }
        OperatorSpec::TopN(params) => {
            for key in &params.keys {
                column_index(&place, &input, &key.column)?;
            }
            input
        }
        OperatorSpec::HashJoin(join) => join_schema(&place, join, &inputs[0], &inputs[1])?,
        OperatorSpec::Union => {
            for (i, other) in inputs.iter().enumerate().skip(1) {
                if other != &input {
                    return Err(SpecError::Schema {
                        place,
                        message: format!("union input {i} has a different schema than input 0"),
                    });
                }
            }
            input
        }
        OperatorSpec::Blackhole | OperatorSpec::Collect(_) | OperatorSpec::Files(_) => input,
    })
}

fn join_schema(
    place: &str,
    join: &super::operators::JoinParams,
    left: &Schema,
    right: &Schema,
) -> Result<Schema, SpecError> {
    if join.left_keys.len() != join.right_keys.len() || join.left_keys.is_empty() {
        return Err(SpecError::Schema {
            place: place.to_string(),
            message: "left_keys and right_keys must be non-empty and of equal length".into(),
        });
    }
    for (l, r) in join.left_keys.iter().zip(&join.right_keys) {
        let lt = left.fields[column_index(place, left, l)?].data_type;
        let rt = right.fields[column_index(place, right, r)?].data_type;
        if lt != rt {
            return Err(SpecError::Expr {
                place: place.to_string(),
                error: ExprError::TypeMismatch {
                    message: format!("join key {l} is {lt} but {r} is {rt}"),
                },
            });
        }
    }
    let mut fields = left.fields.clone();
    for field in &right.fields {
        let mut field = field.clone();
        if join.kind == JoinKind::Left {
            field.nullable = true;
        }
        fields.push(field);
    }
    unique_names(place, Schema::new(fields))
}

fn unique_names(place: &str, schema: Schema) -> Result<Schema, SpecError> {
    limits::check_columns(place, schema.fields.len())?;
    let mut seen = HashSet::new();
    for field in &schema.fields {
        if !seen.insert(field.name.as_str()) {
            return Err(SpecError::Schema {
                place: place.to_string(),
                message: format!("column {:?} appears twice in the output", field.name),
            });
        }
    }
    Ok(schema)
}
