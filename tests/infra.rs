//! The SAM template (`infra/template.yaml`) and the routing table agree, both ways:
//! every queue, consumer, batch size, concurrency, timeout, redrive and schedule in
//! `customs_contracts::{ROUTES, SCHEDULES}` is in the template with the same values, and
//! the template has no queue, consumer or schedule the table does not know.
//! Needs no services: it only reads files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use customs_contracts::{ROUTES, Route, SCHEDULES};
use serde_json::{Map, Value, json};

/// Physical names in the template are `!Sub customs-${Stage}-<logical>`.
const PREFIX: &str = "customs-${Stage}-";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// YAML (with CloudFormation's short tags) to JSON in CloudFormation's long form:
/// `!Ref X` → `{"Ref": X}`, `!GetAtt A.B` → `{"Fn::GetAtt": [A, B]}`,
/// `!Condition C` → `{"Condition": C}`, any other `!Fn` → `{"Fn::Fn": …}`.
fn to_json(v: serde_norway::Value) -> Result<Value> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(to_json).collect::<Result<_>>()?),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_norway::to_string(&other)?.trim().to_owned(),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(t.value)?;
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (res, attr) = s
                            .split_once('.')
                            .with_context(|| format!("!GetAtt {s} has no attribute"))?;
                        ("Fn::GetAtt".to_owned(), json!([res, attr]))
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                _ => (format!("Fn::{name}"), inner),
            };
            json!({ key: inner })
        }
    })
}

struct Template {
    resources: Map<String, Value>,
    parameters: Map<String, Value>,
}

impl Template {
    fn load() -> Result<Self> {
        let path = repo_root().join("infra/template.yaml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let yaml: serde_norway::Value =
            serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let doc = to_json(yaml)?;
        let section = |name: &str| {
            doc.get(name)
                .and_then(Value::as_object)
                .cloned()
                .with_context(|| format!("template has no {name}"))
        };
        Ok(Self {
            resources: section("Resources")?,
            parameters: section("Parameters")?,
        })
    }

    /// (logical id, properties) of every resource of `ty`.
    fn of_type(&self, ty: &str) -> Vec<(&str, &Value)> {
        self.resources
            .iter()
            .filter(|(_, r)| r["Type"] == ty)
            .map(|(id, r)| (id.as_str(), r.get("Properties").unwrap_or(&Value::Null)))
            .collect()
    }

    /// A numeric property, or the default of the parameter it `!Ref`s.
    fn number(&self, v: &Value) -> Option<u64> {
        match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            Value::Object(o) => o
                .get("Ref")
                .and_then(Value::as_str)
                .and_then(|p| self.number(&self.parameters.get(p)?["Default"])),
            _ => None,
        }
    }
}

/// `customs-${Stage}-<name>` in a `!Sub` → `<name>`.
fn logical_name(v: &Value) -> Option<&str> {
    v.get("Fn::Sub")?.as_str()?.strip_prefix(PREFIX)
}

fn get_att(resource: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attr] })
}

/// Logical queue name → logical id of the `AWS::SQS::Queue` resource.
fn queues(t: &Template) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (id, props) in t.of_type("AWS::SQS::Queue") {
        let name = logical_name(&props["QueueName"])
            .with_context(|| format!("queue {id}: QueueName is not !Sub {PREFIX}<name>"))?;
        ensure!(
            out.insert(name.to_owned(), id.to_owned()).is_none(),
            "two queues are named {name}"
        );
    }
    Ok(out)
}

/// One SQS event source of a function.
#[derive(Debug)]
struct Source<'a> {
    function: String,
    queue_resource: String,
    props: &'a Value,
}

/// Function name (its `functions/` directory) → logical id and properties.
fn functions(t: &Template) -> Result<BTreeMap<String, (&str, &Value)>> {
    let mut out = BTreeMap::new();
    for (id, props) in t.of_type("AWS::Serverless::Function") {
        let name = logical_name(&props["FunctionName"])
            .with_context(|| format!("function {id}: FunctionName is not !Sub {PREFIX}<dir>"))?;
        ensure!(
            out.insert(name.to_owned(), (id, props)).is_none(),
            "two functions are named {name}"
        );
    }
    Ok(out)
}

fn sqs_sources(t: &Template) -> Result<Vec<Source<'_>>> {
    ensure!(
        t.of_type("AWS::Lambda::EventSourceMapping").is_empty(),
        "raw AWS::Lambda::EventSourceMapping resources escape this test; declare SQS sources as SAM `Events` of the function"
    );
    let mut out = Vec::new();
    for (name, (id, props)) in functions(t)? {
        let Some(events) = props.get("Events").and_then(Value::as_object) else {
            continue;
        };
        for (ev, e) in events {
            if e["Type"] != "SQS" {
                bail!(
                    "function {id}: event {ev} has type {}; only SQS sources are expected",
                    e["Type"]
                );
            }
            let p = &e["Properties"];
            let queue = p["Queue"]["Fn::GetAtt"]
                .as_array()
                .filter(|a| a.len() == 2 && a[1] == "Arn")
                .and_then(|a| a[0].as_str())
                .with_context(|| {
                    format!("function {id}: event {ev}: Queue is not !GetAtt <Queue>.Arn")
                })?;
            out.push(Source {
                function: name.clone(),
                queue_resource: queue.to_owned(),
                props: p,
            });
        }
    }
    Ok(out)
}

#[test]
fn every_function_directory_is_one_function_built_from_its_binary() -> Result<()> {
    let t = Template::load()?;
    let mut dirs = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("functions"))? {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            dirs.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let fns = functions(&t)?;
    let names: BTreeSet<String> = fns.keys().cloned().collect();
    assert_eq!(
        names, dirs,
        "functions in the template vs directories under functions/"
    );
    for (name, (id, props)) in &fns {
        let binary = &t.resources[*id]["Metadata"]["BuildProperties"]["Binary"];
        assert_eq!(
            binary,
            &json!(format!("customs-{name}")),
            "{id}: BuildProperties.Binary"
        );
        assert_eq!(
            t.resources[*id]["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}: BuildMethod"
        );
        assert!(
            props.get("Role").is_some(),
            "{id}: every function has its own role"
        );
    }
    Ok(())
}

#[test]
fn every_route_is_a_queue_with_its_dlq_and_nothing_else_is() -> Result<()> {
    let t = Template::load()?;
    let qs = queues(&t)?;
    let expected: BTreeSet<String> = ROUTES
        .iter()
        .flat_map(|r| [r.queue.to_owned(), format!("{}-dlq", r.queue)])
        .collect();
    let found: BTreeSet<String> = qs.keys().cloned().collect();
    assert_eq!(found, expected, "queues in the template vs ROUTES (+ -dlq)");

    let fns = functions(&t)?;
    for r in ROUTES {
        let id = &qs[r.queue];
        let props = &t.resources[id]["Properties"];
        let dlq = &qs[&format!("{}-dlq", r.queue)];
        let vis = t
            .number(&props["VisibilityTimeout"])
            .with_context(|| format!("{id}: VisibilityTimeout"))?;
        assert_eq!(
            vis,
            u64::from(r.visibility_timeout_secs),
            "{id}: VisibilityTimeout vs routing table"
        );
        let (_, consumer) = fns
            .get(r.consumer)
            .with_context(|| format!("consumer {} of {} has no function", r.consumer, r.queue))?;
        let timeout = t
            .number(&consumer["Timeout"])
            .with_context(|| format!("{}: Timeout", r.consumer))?;
        assert_eq!(
            timeout,
            u64::from(r.function_timeout_secs),
            "{}: Timeout vs routing table",
            r.consumer
        );
        assert!(
            vis >= 6 * timeout,
            "{id}: VisibilityTimeout {vis} < 6 x {} timeout {timeout}",
            r.consumer
        );
        let redrive = &props["RedrivePolicy"];
        assert_eq!(
            redrive["deadLetterTargetArn"],
            get_att(dlq, "Arn"),
            "{id}: redrive target"
        );
        assert_eq!(
            t.number(&redrive["maxReceiveCount"]),
            Some(u64::from(r.max_receives)),
            "{id}: maxReceiveCount"
        );
        assert!(
            t.resources[dlq]["Properties"]
                .get("RedrivePolicy")
                .is_none(),
            "{dlq}: a DLQ has no DLQ"
        );
    }
    Ok(())
}

#[test]
fn every_route_has_exactly_its_consumer_and_every_source_is_a_route() -> Result<()> {
    let t = Template::load()?;
    let qs = queues(&t)?;
    let by_resource: BTreeMap<&str, &str> = qs
        .iter()
        .map(|(name, id)| (id.as_str(), name.as_str()))
        .collect();
    let sources = sqs_sources(&t)?;
    for s in &sources {
        let queue = by_resource
            .get(s.queue_resource.as_str())
            .with_context(|| {
                format!("{}: source {} is not a queue", s.function, s.queue_resource)
            })?;
        let route: &Route = ROUTES.iter().find(|r| r.queue == *queue).with_context(|| {
            format!(
                "function {} consumes {queue}, which is not in ROUTES",
                s.function
            )
        })?;
        assert_eq!(
            route.consumer, s.function,
            "queue {queue}: consumer in the template vs routing table"
        );
    }
    for r in ROUTES {
        let mine: Vec<&Source> = sources
            .iter()
            .filter(|s| by_resource.get(s.queue_resource.as_str()) == Some(&r.queue))
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "queue {} needs exactly one event source, found {mine:?}",
            r.queue
        );
        let p = mine[0].props;
        assert_eq!(
            t.number(&p["BatchSize"]),
            Some(u64::from(r.batch_size)),
            "{}: BatchSize",
            r.queue
        );
        assert_eq!(
            t.number(&p["ScalingConfig"]["MaximumConcurrency"]),
            Some(u64::from(r.max_concurrency)),
            "{}: ScalingConfig.MaximumConcurrency",
            r.queue
        );
        assert_eq!(
            p["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"]),
            "{}: partial batch failures",
            r.queue
        );
        assert!(
            p.get("Enabled").is_none_or(|e| e == true),
            "{}: source disabled",
            r.queue
        );
    }
    Ok(())
}

#[test]
fn reserved_concurrency_does_not_throttle_the_event_source() -> Result<()> {
    let t = Template::load()?;
    for (name, (id, props)) in functions(&t)? {
        let Some(reserved) = props.get("ReservedConcurrentExecutions") else {
            continue;
        };
        // `!If [Cond, !Ref Param, !Ref AWS::NoValue]` or a plain value.
        let value = reserved
            .get("Fn::If")
            .and_then(|a| a.get(1))
            .unwrap_or(reserved);
        let reserved = t
            .number(value)
            .with_context(|| format!("{id}: ReservedConcurrentExecutions"))?;
        // A function consuming several queues can be invoked by all their mappings at once.
        let wanted: u64 = ROUTES
            .iter()
            .filter(|r| r.consumer == name)
            .map(|r| u64::from(r.max_concurrency))
            .sum();
        assert!(
            reserved >= wanted,
            "{id}: reserved concurrency {reserved} < the sum of its event sources' maxima {wanted}"
        );
    }
    Ok(())
}

#[test]
fn every_schedule_is_a_rule_putting_its_message_on_its_queue_and_nothing_else_is() -> Result<()> {
    let t = Template::load()?;
    let qs = queues(&t)?;
    let mut rules = BTreeMap::new();
    for (id, props) in t.of_type("AWS::Events::Rule") {
        let name = logical_name(&props["Name"])
            .and_then(|n| n.strip_suffix("-schedule"))
            .with_context(|| format!("rule {id}: Name is not !Sub {PREFIX}<schedule>-schedule"))?;
        rules.insert(name.to_owned(), (id, props));
    }
    let expected: BTreeSet<&str> = SCHEDULES.iter().map(|s| s.name).collect();
    let found: BTreeSet<&str> = rules.keys().map(String::as_str).collect();
    assert_eq!(
        found, expected,
        "EventBridge rules in the template vs SCHEDULES"
    );

    let policies = t.of_type("AWS::SQS::QueuePolicy");
    for s in SCHEDULES {
        let (id, props) = rules[s.name];
        assert_eq!(props["ScheduleExpression"], s.rate, "{id}: rate");
        assert_eq!(props["State"], "ENABLED", "{id}: state");
        let targets = props["Targets"]
            .as_array()
            .with_context(|| format!("{id}: Targets"))?;
        assert_eq!(targets.len(), 1, "{id}: one target");
        let queue = &qs[s.queue];
        assert_eq!(
            targets[0]["Arn"],
            get_att(queue, "Arn"),
            "{id}: target queue"
        );
        let input: Value = serde_json::from_str(
            targets[0]["Input"]
                .as_str()
                .with_context(|| format!("{id}: Input"))?,
        )?;
        let message: Value = serde_json::from_str(&s.message())?;
        assert_eq!(input, message, "{id}: Input vs Schedule::message()");

        // EventBridge may send to the queue, and only for this rule.
        let allowed = policies.iter().any(|(_, p)| {
            p["Queues"] == json!([{ "Ref": queue }])
                && p["PolicyDocument"]["Statement"]
                    .as_array()
                    .is_some_and(|st| {
                        st.iter().any(|st| {
                            st["Effect"] == "Allow"
                                && st["Principal"]["Service"] == "events.amazonaws.com"
                                && st["Action"] == "sqs:SendMessage"
                                && st["Resource"] == get_att(queue, "Arn")
                                && st["Condition"]["ArnEquals"]["aws:SourceArn"]
                                    == get_att(id, "Arn")
                        })
                    })
        });
        assert!(allowed, "no queue policy lets rule {id} send to {queue}");
    }
    Ok(())
}

#[test]
fn the_short_tags_are_read_as_intrinsics() -> Result<()> {
    let y: serde_norway::Value = serde_norway::from_str(
        "a: !GetAtt Q.Arn\nb: !Ref X\nc: !Sub 'customs-${Stage}-x'\nd: !If [C, 1, !Ref AWS::NoValue]",
    )?;
    let j = to_json(y)?;
    assert_eq!(j["a"], get_att("Q", "Arn"));
    assert_eq!(j["b"], json!({ "Ref": "X" }));
    assert_eq!(logical_name(&j["c"]), Some("x"));
    assert_eq!(
        j["d"],
        json!({ "Fn::If": ["C", 1, { "Ref": "AWS::NoValue" }] })
    );
    Ok(())
}
