//! `customs evaluate check` and `customs policy …`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::args::{EvaluateCmd, PolicyCmd};
use crate::client::{digest_of, is_digest, segment, str_at};
use crate::images::first;
use crate::output::{Cell, Table, fields, print_json, status_colour, text};
use crate::{Ctx, Error, Outcome};

/// One gate/trigger row of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub gate: String,
    pub trigger: String,
    pub output: String,
    /// stop, warn or go (go when whitelisted).
    pub action: String,
    pub whitelisted: bool,
}

/// The evaluation of one image and tag.
#[derive(Debug, Clone)]
pub struct Check {
    pub digest: String,
    pub tag: String,
    /// pass or fail.
    pub status: String,
    pub policy_id: String,
    pub last_evaluation: String,
    pub final_action: String,
    pub rows: Vec<Row>,
    /// The API's answer, for `--json`.
    pub raw: Value,
}

impl Check {
    /// Reads `[{digest: {tag: [{status, policyId, last_evaluation, detail}]}}]`.
    pub fn parse(raw: Value) -> Option<Self> {
        let by_digest = raw.as_array()?.first()?.as_object()?;
        let (digest, by_tag) = by_digest.iter().next()?;
        let (tag, evals) = by_tag.as_object()?.iter().next()?;
        let e = evals.as_array()?.first()?;
        let result = e.pointer("/detail/result");
        let mut rows = Vec::new();
        if let Some(table) = result
            .and_then(|r| r.get("result"))
            .and_then(Value::as_object)
        {
            for t in table.values().filter_map(|v| v.get("result")) {
                let header: Vec<&str> = t
                    .get("header")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let col = |name: &str| header.iter().position(|h| *h == name);
                let (g, tr, o, a, w) = (
                    col("Gate"),
                    col("Trigger"),
                    col("Check_Output"),
                    col("Gate_Action"),
                    col("Whitelisted"),
                );
                for r in t
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let cell =
                        |i: Option<usize>| i.and_then(|i| r.get(i)).map(text).unwrap_or_default();
                    let whitelisted = w
                        .and_then(|i| r.get(i))
                        .is_some_and(|v| !v.is_null() && *v != Value::Bool(false));
                    rows.push(Row {
                        gate: cell(g),
                        trigger: cell(tr),
                        output: cell(o),
                        action: cell(a).to_ascii_lowercase(),
                        whitelisted,
                    });
                }
            }
        }
        Some(Self {
            digest: digest.clone(),
            tag: tag.clone(),
            status: str_at(e, "status").to_owned(),
            policy_id: str_at(e, "policyId").to_owned(),
            last_evaluation: str_at(e, "last_evaluation").to_owned(),
            final_action: result
                .map(|r| str_at(r, "final_action").to_owned())
                .unwrap_or_default(),
            rows,
            raw,
        })
    }
}

/// Fetches the check of an analysed image, waiting while the evaluation is queued.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn check_with_wait(
    ctx: &Ctx,
    rec: &Value,
    tag: Option<String>,
    policy: Option<&str>,
    detail: bool,
    deadline: Instant,
    timeout: u64,
    show: &mut dyn FnMut(&str),
) -> Result<Check, Error> {
    let digest = digest_of(rec).ok_or_else(|| Error::Unexpected {
        path: "/images".into(),
        reason: "the image has no digest".into(),
    })?;
    let tag = tag.or_else(|| {
        rec.pointer("/image_detail/0/fulltag")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let mut query = vec![
        ("detail", detail.to_string()),
        ("history", "false".to_owned()),
    ];
    if let Some(t) = tag {
        query.push(("tag", t));
    }
    if let Some(p) = policy {
        query.push(("policyId", p.to_owned()));
    }
    let path = format!("/images/{}/check", segment(&digest));
    loop {
        match ctx.client.get(&path, &query).await {
            Ok(raw) => {
                return Check::parse(raw).ok_or_else(|| Error::Unexpected {
                    path,
                    reason: "not an evaluation list".into(),
                });
            }
            // The evaluation is queued (or about to be): ask again shortly.
            Err(Error::Api {
                status: 404,
                message,
                ..
            }) if message.contains("retry")
                || message.contains("could not find any evaluations") =>
            {
                show("evaluating against the active policy");
                if Instant::now() > deadline {
                    return Err(Error::Timeout {
                        seconds: timeout,
                        what: format!("the evaluation of {digest}"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn check_fields(ctx: &Ctx, c: &Check, detail: bool) -> String {
    let mut out = fields(
        &ctx.style,
        &[
            ("Image Digest", c.digest.as_str().into()),
            ("Full Tag", c.tag.as_str().into()),
            (
                "Status",
                Cell::coloured(c.status.as_str(), status_colour(&c.status)),
            ),
            ("Last Eval", c.last_evaluation.as_str().into()),
            ("Policy ID", c.policy_id.as_str().into()),
        ],
    );
    if detail && !c.final_action.is_empty() {
        out.push_str(&fields(
            &ctx.style,
            &[(
                "Final Action",
                Cell::coloured(c.final_action.as_str(), status_colour(&c.final_action)),
            )],
        ));
    }
    if detail && !c.rows.is_empty() {
        let mut t = Table::new(&["Gate", "Trigger", "Detail", "Status"]);
        for r in &c.rows {
            let status = if r.whitelisted {
                "whitelisted".to_owned()
            } else {
                r.action.clone()
            };
            t.row(vec![
                r.gate.as_str().into(),
                r.trigger.as_str().into(),
                r.output.as_str().into(),
                Cell::coloured(status.clone(), status_colour(&status)),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render(&ctx.style));
    }
    out
}

pub(crate) async fn run(ctx: &Ctx, cmd: EvaluateCmd) -> Result<Outcome, Error> {
    let EvaluateCmd::Check {
        image,
        tag,
        policy,
        detail,
        timeout,
    } = cmd;
    let rec = ctx.client.image(&image).await?;
    let tag = tag.or_else(|| (!is_digest(&image) && !image.contains('@')).then(|| image.clone()));
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let check = check_with_wait(
        ctx,
        &rec,
        tag,
        policy.as_deref(),
        detail,
        deadline,
        timeout,
        &mut |_| {},
    )
    .await?;
    if ctx.style.json {
        print_json(&check.raw);
    } else {
        out!("{}", check_fields(ctx, &check, detail));
    }
    Ok(Outcome::from_verdict(&check.status))
}

pub(crate) async fn policy(ctx: &Ctx, cmd: PolicyCmd) -> Result<Outcome, Error> {
    let record_fields = |p: &Value| {
        let active = text(p.get("active").unwrap_or(&Value::Null));
        fields(
            &ctx.style,
            &[
                ("Policy ID", str_at(p, "policyId").into()),
                ("Name", str_at(p, "name").into()),
                (
                    "Active",
                    Cell::coloured(
                        active.clone(),
                        if active == "true" {
                            status_colour("active")
                        } else {
                            None
                        },
                    ),
                ),
                ("Source", str_at(p, "policy_source").into()),
                ("Created", str_at(p, "created_at").into()),
                ("Updated", str_at(p, "last_updated").into()),
            ],
        )
    };
    match cmd {
        PolicyCmd::Add { file } => {
            let raw = std::fs::read(&file).map_err(|e| Error::io(file.display(), e))?;
            let bundle: Value = serde_json::from_slice(&raw).map_err(|e| {
                Error::Usage(format!(
                    "{} is not a JSON policy bundle: {e}",
                    file.display()
                ))
            })?;
            let v = ctx
                .client
                .post("/policies", &[("detail", "false".into())], &bundle)
                .await?;
            if ctx.style.json {
                print_json(&v);
            } else {
                out!("{}", record_fields(&v));
            }
        }
        PolicyCmd::List => {
            let v = ctx
                .client
                .get("/policies", &[("detail", "false".into())])
                .await?;
            if ctx.style.json {
                print_json(&v);
            } else {
                let mut t = Table::new(&["Policy ID", "Name", "Active", "Created", "Updated"]);
                for p in v.as_array().into_iter().flatten() {
                    let active = text(p.get("active").unwrap_or(&Value::Null));
                    t.row(vec![
                        str_at(p, "policyId").into(),
                        str_at(p, "name").into(),
                        Cell::coloured(
                            active.clone(),
                            if active == "true" {
                                status_colour("active")
                            } else {
                                None
                            },
                        ),
                        str_at(p, "created_at").into(),
                        str_at(p, "last_updated").into(),
                    ]);
                }
                out!("{}", t.render(&ctx.style));
            }
        }
        PolicyCmd::Get { policy_id, detail } => {
            let path = format!("/policies/{}", segment(&policy_id));
            let v = ctx
                .client
                .get(&path, &[("detail", detail.to_string())])
                .await?;
            let p = first(&v, &path)?;
            if ctx.style.json {
                print_json(&v);
            } else if detail {
                print_json(p.get("policybundle").unwrap_or(&Value::Null));
            } else {
                out!("{}", record_fields(&p));
            }
        }
        PolicyCmd::Activate { policy_id } => {
            let path = format!("/policies/{}", segment(&policy_id));
            let mut p = first(
                &ctx.client.get(&path, &[("detail", "true".into())]).await?,
                &path,
            )?;
            if let Some(o) = p.as_object_mut() {
                o.insert("active".into(), Value::Bool(true));
            }
            let v = ctx.client.put(&path, &[], &p).await?;
            if ctx.style.json {
                print_json(&v);
            } else {
                outln!("Success: {policy_id} activated");
            }
        }
        PolicyCmd::Del { policy_id } => {
            let v = ctx
                .client
                .delete(&format!("/policies/{}", segment(&policy_id)), &[])
                .await?;
            if ctx.style.json {
                print_json(&json!({ "policyId": policy_id, "result": v }));
            } else {
                outln!("Success: {policy_id} deleted");
            }
        }
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_detailed_check() {
        let raw = json!([{ "sha256:abc": { "r/x:1": [{
            "policyId": "p1", "status": "fail", "last_evaluation": "2026-01-01T00:00:00Z",
            "detail": { "result": { "image_id": "img", "final_action": "stop", "result": { "img": { "result": {
                "header": ["Image_Id","Repo_Tag","Trigger_Id","Gate","Trigger","Check_Output","Gate_Action","Whitelisted","Policy_Id"],
                "rows": [["img","r/x:1","t","always","always","always fires","stop",false,"p"],
                         ["img","r/x:1","t2","dockerfile","instruction","no HEALTHCHECK","go",{"whitelist_name":"w"},"p"]]
            }}}}}
        }]}}]);
        let c = Check::parse(raw).expect("parses");
        assert_eq!(
            (
                c.digest.as_str(),
                c.tag.as_str(),
                c.status.as_str(),
                c.final_action.as_str()
            ),
            ("sha256:abc", "r/x:1", "fail", "stop")
        );
        assert_eq!(c.rows.len(), 2);
        assert_eq!(
            c.rows[0],
            Row {
                gate: "always".into(),
                trigger: "always".into(),
                output: "always fires".into(),
                action: "stop".into(),
                whitelisted: false
            }
        );
        assert!(c.rows[1].whitelisted);
        assert!(Check::parse(json!({"message": "x"})).is_none());
    }
}
