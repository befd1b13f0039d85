//! CEL expressions: compiling them, finding what they read, and moving values
//! between JSON (the facts' wire form) and CEL.

use cel::common::ast::{EntryExpr, Expr};
use cel::objects::{Key, Map};
use cel::parser::PrattParser;
use cel::{Context, ExecutionError, IdedExpr, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// Variables a policy expression may use.
pub const VARIABLES: [&str; 5] = ["facts", "params", "level", "role", "platform"];

/// Identifiers CEL itself resolves (type names usable as values).
const TYPE_NAMES: [&str; 10] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
];

/// A parsed CEL expression with what it reads.
pub struct Compiled {
    pub source: String,
    expr: IdedExpr,
    /// Fact paths read, relative to `facts` (`antivirus.products`), none a prefix of another.
    pub fact_paths: Vec<String>,
    /// Names read under `params`.
    pub params: BTreeSet<String>,
    /// Identifiers that are neither policy variables nor bound by a macro.
    pub unknown_variables: BTreeSet<String>,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled").field("source", &self.source).finish_non_exhaustive()
    }
}

impl Compiled {
    pub fn new(source: &str) -> Result<Self, String> {
        let expr = PrattParser::new().parse(source).map_err(|e| e.to_string().trim().to_string())?;
        let mut refs = Refs::default();
        walk(&expr, &mut Vec::new(), &mut refs);
        Ok(Compiled {
            source: source.to_string(),
            fact_paths: minimal_paths(refs.fact_paths),
            params: refs.params,
            unknown_variables: refs.unknown,
            expr,
        })
    }

    pub fn execute(&self, ctx: &Context<'_, '_>) -> Result<Value, ExecutionError> {
        ctx.resolve(&self.expr)
    }

    /// The syntax tree, for comparing parsers in tests.
    pub fn tree(&self) -> &IdedExpr {
        &self.expr
    }
}

#[derive(Default)]
struct Refs {
    fact_paths: BTreeSet<String>,
    params: BTreeSet<String>,
    unknown: BTreeSet<String>,
}

/// The names of a chain of field selections on an identifier: `a.b.c` → `[a, b, c]`.
fn qualified_name(e: &IdedExpr) -> Option<Vec<&str>> {
    match &e.expr {
        Expr::Ident(name) => Some(vec![name.as_str()]),
        Expr::Select(s) => {
            let mut names = qualified_name(&s.operand)?;
            names.push(s.field.as_str());
            Some(names)
        }
        _ => None,
    }
}

fn walk<'a>(e: &'a IdedExpr, bound: &mut Vec<&'a str>, refs: &mut Refs) {
    if let Some(names) = qualified_name(e) {
        let root = names[0];
        if bound.contains(&root) {
            return;
        }
        match root {
            "facts" => {
                refs.fact_paths.insert(names[1..].join("."));
            }
            "params" => {
                if let Some(name) = names.get(1) {
                    refs.params.insert((*name).to_string());
                }
            }
            _ if VARIABLES.contains(&root) || TYPE_NAMES.contains(&root) => {}
            _ => {
                refs.unknown.insert(root.to_string());
            }
        }
        return;
    }
    match &e.expr {
        Expr::Select(s) => walk(&s.operand, bound, refs),
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                walk(t, bound, refs);
            }
            for a in &c.args {
                walk(a, bound, refs);
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, bound, refs);
            walk(&c.accu_init, bound, refs);
            let depth = bound.len();
            bound.push(&c.iter_var);
            if let Some(v) = &c.iter_var2 {
                bound.push(v);
            }
            bound.push(&c.accu_var);
            walk(&c.loop_cond, bound, refs);
            walk(&c.loop_step, bound, refs);
            walk(&c.result, bound, refs);
            bound.truncate(depth);
        }
        Expr::List(l) => {
            for x in &l.elements {
                walk(x, bound, refs);
            }
        }
        Expr::Map(m) => walk_entries(&m.entries, bound, refs),
        Expr::Struct(s) => walk_entries(&s.entries, bound, refs),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn walk_entries<'a>(entries: &'a [cel::common::ast::IdedEntryExpr], bound: &mut Vec<&'a str>, refs: &mut Refs) {
    for entry in entries {
        match &entry.expr {
            EntryExpr::MapEntry(m) => {
                walk(&m.key, bound, refs);
                walk(&m.value, bound, refs);
            }
            EntryExpr::StructField(f) => walk(&f.value, bound, refs),
        }
    }
}

/// Drops paths that extend another path of the set: reading `a` covers `a.b`.
fn minimal_paths(paths: BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        // BTreeSet order puts a prefix right before its extensions.
        if let Some(last) = out.last()
            && path_covers(last, &p)
        {
            continue;
        }
        out.push(p);
    }
    out
}

/// True when `outer` is `inner` or one of its ancestors (segment-wise).
pub fn path_covers(outer: &str, inner: &str) -> bool {
    outer.is_empty() || inner == outer || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'.'))
}

/// Converts JSON into a CEL value. Integers become CEL `int` (not `uint`) so
/// that policy literals such as `23` compare equal to fact values.
pub fn json_to_cel(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => Value::List(Arc::new(items.iter().map(json_to_cel).collect())),
        serde_json::Value::Object(obj) => {
            let map: HashMap<Key, Value> = obj
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// Converts a CEL result into JSON for evidence.
pub fn cel_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Value::String(s) => J::String(s.to_string()),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::List(items) => J::Array(items.iter().map(cel_to_json).collect()),
        Value::Map(m) => {
            let obj = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::String(s) => s.to_string(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => u.to_string(),
                        Key::Bool(b) => b.to_string(),
                    };
                    (key, cel_to_json(v))
                })
                .collect();
            J::Object(obj)
        }
        other => J::String(format!("{other:?}")),
    }
}

/// Looks a dotted path up in JSON, stopping at the first list (checks iterate lists themselves).
pub fn lookup<'a>(root: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if path.is_empty() {
        return Some(root);
    }
    let mut cur = root;
    for seg in path.split('.') {
        match cur {
            serde_json::Value::Object(obj) => cur = obj.get(seg)?,
            serde_json::Value::Array(_) => return Some(cur),
            _ => return None,
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fact_paths_params_and_unknown_names() {
        let c = Compiled::new(
            "facts.antivirus.products.exists(p, p.running && age_days(p.signature_time) <= params.max_age) \
             && facts.firewall.enabled && has(facts.firewall.backends) && size(facts.antivirus.products) > 0 \
             && mystery == 1 && type(level) == int",
        )
        .unwrap();
        assert_eq!(c.fact_paths, vec!["antivirus.products", "firewall.backends", "firewall.enabled"]);
        assert_eq!(c.params.iter().collect::<Vec<_>>(), vec!["max_age"]);
        assert_eq!(c.unknown_variables.iter().collect::<Vec<_>>(), vec!["mystery"]);
    }

    #[test]
    fn macro_variables_do_not_leak() {
        let c = Compiled::new("[1].all(x, x > 0) && x == 1").unwrap();
        assert_eq!(c.unknown_variables.iter().collect::<Vec<_>>(), vec!["x"]);
    }

    #[test]
    fn prefix_paths_cover_extensions() {
        let c = Compiled::new("size(facts.network) > 0 && facts.network.dns.resolvers == []").unwrap();
        assert_eq!(c.fact_paths, vec!["network"]);
        assert!(path_covers("firewall", "firewall.backends"));
        assert!(!path_covers("firewall", "firewalls"));
        assert!(path_covers("", "anything"));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(Compiled::new("facts.(").is_err());
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": 18446744073709551615u64}});
        assert_eq!(cel_to_json(&json_to_cel(&j)), j);
        assert_eq!(lookup(&j, "b.c"), Some(&serde_json::json!(18446744073709551615u64)));
        assert_eq!(lookup(&j, "a.x"), j.get("a"));
        assert_eq!(lookup(&j, "nope"), None);
    }
}
