//! The evaluator: one framework, one level, one set of facts → verdicts with evidence.
//!
//! The same code runs in the agent (`khien-agent check`) and in the collector,
//! which re-evaluates the stored facts against the level of every information
//! system an endpoint belongs to; the collector's answer is the one that counts.
//!
//! Statuses:
//! - `pass` when the check's expression is true: positive evidence stands even
//!   if another probe failed;
//! - `error` when it is false or cannot be computed and a probe that fills one
//!   of the facts it reads reported a failure (named in the message), or when
//!   the expression cannot be computed (a fact it needs is unknown);
//! - `fail` when it is false on complete facts;
//! - `not_applicable` for another role or platform, or when `applies` is false;
//! - `manual` for checks a person attests.

use crate::expr::{cel_to_json, json_to_cel, lookup, path_covers};
use crate::model::{Check, Framework, Lang, ParamValue, Requirement, Rule, fill_params};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, ExecutionError, Value};
use khien_proto::facts::ProbeError;
use khien_proto::{CheckResult, Counts, Evaluation, Evidence, Facts, Platform, Role, Status, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Who is evaluated, against what, when.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub level: u8,
    pub role: Role,
    pub platform: Platform,
    pub lang: Lang,
    /// The instant `age_days()` measures from.
    pub now: Timestamp,
    /// Whether to compute evidence. The collector's ingest needs only the
    /// statuses (evidence is reproduced from the stored facts when asked for),
    /// which halves the work on its hot path.
    pub evidence: bool,
}

impl Target {
    /// The endpoint's own platform and role, at `level`, now.
    pub fn for_facts(facts: &Facts, level: u8) -> Self {
        Target {
            level,
            role: facts.host.role,
            platform: facts.platform,
            lang: Lang::default(),
            now: Timestamp::now(),
            evidence: true,
        }
    }
}

/// CEL's standard environment, built once: building it allocates its whole
/// function table, which cost more than evaluating a framework.
fn env() -> Arc<cel::Env> {
    static ENV: std::sync::OnceLock<Arc<cel::Env>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| Arc::new(cel::Env::stdlib())).clone()
}

/// Facts prepared once for any number of evaluations (several systems, levels or frameworks).
///
/// The package inventory (`packages.installed`) is left out: no requirement asks
/// for one package (checks use `count`, `digest` and the pending updates), and
/// converting hundreds of entries doubled the cost of preparing the facts.
pub struct FactsView {
    cel: Value,
    /// `cel` in the interpreter's own representation, built once: binding a
    /// `Value` to a context converts (copies) the whole tree at every evaluation.
    val: Box<dyn Val>,
    /// The same facts as JSON, built only when evidence needs them.
    json: std::sync::OnceLock<serde_json::Value>,
    errors: Vec<ProbeError>,
}

impl FactsView {
    pub fn new(facts: &Facts) -> Self {
        // Straight into CEL values: going through a JSON tree first doubled the
        // cost, and the collector needs no JSON on its hot path. Serialising the
        // fact model cannot fail: its map keys are strings.
        let cel = if facts.packages.installed.is_empty() {
            cel::to_value(facts)
        } else {
            let mut visible = facts.clone();
            visible.packages.installed = Vec::new();
            cel::to_value(&visible)
        }
        .unwrap_or(Value::Null);
        FactsView {
            val: to_val(&cel),
            cel,
            json: std::sync::OnceLock::new(),
            errors: facts.errors.clone(),
        }
    }

    /// From facts already in JSON form (arbitrary JSON, even).
    pub fn from_json(mut json: serde_json::Value, errors: Vec<ProbeError>) -> Self {
        if let Some(p) = json.get_mut("packages").and_then(|p| p.as_object_mut()) {
            p.remove("installed");
        }
        let cel = json_to_cel(&json);
        FactsView {
            val: to_val(&cel),
            cel,
            json: std::sync::OnceLock::from(json),
            errors,
        }
    }

    pub fn json(&self) -> &serde_json::Value {
        self.json.get_or_init(|| cel_to_json(&self.cel))
    }
}

/// A value in the interpreter's representation; the fact model converts without error.
pub fn to_val(v: &Value) -> Box<dyn Val> {
    Box::<dyn Val>::try_from(v.clone()).unwrap_or_else(|_| Box::new(cel::common::types::CelNull))
}

/// Lends one prebuilt value to the interpreter under one name, without copying it.
struct Lend<'a> {
    name: &'static str,
    value: &'a dyn Val,
}

impl VariableResolver for Lend<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == self.name).then_some(CowVal::Borrowed(self.value))
    }
}

impl Framework {
    pub fn evaluate(&self, facts: &FactsView, target: &Target) -> Evaluation {
        // Every binding outlives the context: the requirements' parameters and the facts are lent, not copied.
        let in_force: Vec<&Requirement> = self.at_level(target.level).collect();
        let params: Vec<Lend<'_>> = in_force
            .iter()
            .map(|r| Lend {
                name: "params",
                value: r.params_val(target.level),
            })
            .collect();
        let lent_facts = Lend {
            name: "facts",
            value: facts.val.as_ref(),
        };
        let mut ctx = Context::with_env(env());
        ctx.set_variable_resolver(&lent_facts);
        let now = target.now;
        // Ages are computed here, not stored in facts, so that unchanged facts
        // keep an unchanged digest while the signatures they describe grow old.
        let added = ctx.add_function("age_days", move |ts: Arc<String>| -> Result<f64, ExecutionError> {
            Timestamp::parse(&ts)
                .map(|t| t.days_until(now))
                .map_err(|e| ExecutionError::function_error("age_days", format!("{ts:?} is not an RFC 3339 time: {e}")))
        });
        debug_assert!(added.is_ok(), "age_days clashes with a CEL built-in");
        // `unknown('why')`: a check that cannot be decided says so, and the result is `error` with that reason.
        let added = ctx.add_function("unknown", |reason: Arc<String>| -> Result<bool, ExecutionError> {
            Err(ExecutionError::function_error("unknown", reason.as_str()))
        });
        debug_assert!(added.is_ok(), "unknown clashes with a CEL built-in");
        ctx.add_variable_from_value("level", Value::Int(i64::from(target.level)));
        ctx.add_variable_from_value("role", Value::String(Arc::new(target.role.as_str().into())));
        ctx.add_variable_from_value("platform", Value::String(Arc::new(target.platform.as_str().into())));

        let mut results = Vec::new();
        for (req, params) in in_force.into_iter().zip(&params) {
            evaluate_requirement(req, &ctx, params, facts, target, &mut results);
        }
        Evaluation {
            framework: self.id.clone(),
            level: target.level,
            platform: target.platform,
            role: target.role,
            evaluated_at: target.now,
            policy_digest: self.digest.clone(),
            counts: Counts::of(&results),
            results,
        }
    }
}

fn evaluate_requirement<'v>(
    req: &Requirement,
    ctx: &Context<'_, 'v>,
    lent_params: &'v Lend<'v>,
    facts: &FactsView,
    target: &Target,
    out: &mut Vec<CheckResult>,
) {
    let params = req.params_at(target.level);
    let mut scope = ctx.new_inner_scope();
    scope.set_variable_resolver(lent_params);

    let checks: Vec<&Check> = req
        .checks
        .iter()
        .filter(|c| c.min_level <= target.level && c.runs_on(target.platform))
        .collect();
    if checks.is_empty() {
        out.push(CheckResult {
            requirement: req.id.clone(),
            check: format!("{}/{}", req.id, target.platform.as_str()),
            status: Status::NotApplicable,
            evidence: Evidence::default(),
            message: Some(format!("no check for {} at level {}", target.platform.as_str(), target.level)),
        });
        return;
    }
    for check in checks {
        out.push(evaluate_check(req, check, &scope, &params, facts, target));
    }
}

fn evaluate_check(
    req: &Requirement,
    check: &Check,
    ctx: &Context<'_, '_>,
    params: &BTreeMap<&str, &ParamValue>,
    facts: &FactsView,
    target: &Target,
) -> CheckResult {
    let result = |status, evidence, message: Option<String>| CheckResult {
        requirement: req.id.clone(),
        check: check.id.clone(),
        status,
        evidence,
        message,
    };
    if !check.roles.contains(&target.role) {
        let roles: Vec<&str> = check.roles.iter().map(|r| r.as_str()).collect();
        return result(
            Status::NotApplicable,
            Evidence::default(),
            Some(format!(
                "applies to {} only, this endpoint is a {}",
                roles.join(", "),
                target.role.as_str()
            )),
        );
    }
    if let Some(applies) = &check.applies {
        match applies.execute(ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                return result(
                    Status::NotApplicable,
                    Evidence {
                        observed: observed_paths(&applies.fact_paths, facts),
                        expected: String::new(),
                    },
                    Some(format!("not applicable: {}", applies.source)),
                );
            }
            other => {
                let why = explain(&other);
                return result(
                    Status::Error,
                    Evidence::default(),
                    Some(probe_failures(&applies.fact_paths, facts).unwrap_or(format!("`applies` {why}"))),
                );
            }
        }
    }
    match &check.rule {
        Rule::Manual(text) => result(
            Status::Manual,
            Evidence {
                observed: serde_json::Value::Null,
                expected: if target.evidence {
                    fill_params(text.get(target.lang), params)
                } else {
                    String::new()
                },
            },
            None,
        ),
        Rule::Expr { expr, observed, expected } => {
            let outcome = expr.execute(ctx);
            let evidence = if !target.evidence {
                Evidence::default()
            } else {
                let observed = match observed {
                    Some(o) => match o.execute(ctx) {
                        Ok(v) => cel_to_json(&v),
                        Err(_) => observed_paths(&expr.fact_paths, facts),
                    },
                    None => observed_paths(&expr.fact_paths, facts),
                };
                Evidence {
                    observed,
                    expected: fill_params(expected.get(target.lang), params),
                }
            };
            match outcome {
                Ok(Value::Bool(true)) => result(Status::Pass, evidence, None),
                Ok(Value::Bool(false)) => match probe_failures(&expr.fact_paths, facts) {
                    Some(msg) => result(Status::Error, evidence, Some(msg)),
                    None => result(Status::Fail, evidence, None),
                },
                other => {
                    let msg = probe_failures(&expr.fact_paths, facts).unwrap_or_else(|| explain(&other));
                    result(Status::Error, evidence, Some(msg))
                }
            }
        }
    }
}

/// Why an expression gave no boolean, in words an operator can act on.
fn explain(outcome: &Result<Value, ExecutionError>) -> String {
    match outcome {
        Ok(v) => format!("gave {} instead of true or false", v.type_of()),
        Err(ExecutionError::NoSuchKey(k)) => format!("a fact it needs is missing: {k}"),
        Err(ExecutionError::FunctionError { function, message }) if function == "unknown" => format!("cannot be decided: {message}"),
        Err(e) if e.to_string().contains("null_type") || e.to_string().contains("'Null'") => {
            format!("a fact it needs is unknown on this endpoint (null): {e}")
        }
        Err(e) => format!("could not be computed: {e}"),
    }
}

/// The probe failures that touch the facts a check reads, if any.
fn probe_failures(paths: &[String], facts: &FactsView) -> Option<String> {
    let msgs: Vec<String> = facts
        .errors
        .iter()
        .filter(|e| paths.iter().any(|p| path_covers(&e.probe, p) || path_covers(p, &e.probe)))
        .map(|e| format!("{}: {}", e.probe, e.message))
        .collect();
    (!msgs.is_empty()).then(|| format!("probe failed: {}", msgs.join("; ")))
}

/// The values of the fact paths a check reads, keyed by path.
fn observed_paths(paths: &[String], facts: &FactsView) -> serde_json::Value {
    let obj: serde_json::Map<String, serde_json::Value> = paths
        .iter()
        .map(|p| (p.clone(), lookup(facts.json(), p).cloned().unwrap_or(serde_json::Value::Null)))
        .collect();
    serde_json::Value::Object(obj)
}

/// `params` at a level as a CEL map; done once per level when the catalogue loads.
pub fn params_to_cel(params: &BTreeMap<&str, &ParamValue>) -> Value {
    let map: HashMap<cel::objects::Key, Value> = params
        .iter()
        .map(|(k, v)| (cel::objects::Key::String(Arc::new((*k).to_string())), param_to_cel(v)))
        .collect();
    Value::Map(cel::objects::Map { map: Arc::new(map) })
}

fn param_to_cel(v: &ParamValue) -> Value {
    match v {
        ParamValue::Bool(b) => Value::Bool(*b),
        ParamValue::Int(i) => Value::Int(*i),
        ParamValue::Float(f) => Value::Float(*f),
        ParamValue::String(s) => Value::String(Arc::new(s.clone())),
        ParamValue::List(items) => Value::List(Arc::new(items.iter().map(param_to_cel).collect())),
    }
}
