"""Deploys infra/template.yaml into LocalStack with CloudFormation and checks the result.

Run with LocalStack's venv python (boto3 + PyYAML), through localstack/scripts/deploy.sh:

  deploy.py package   zip target/debug/<binary> as `bootstrap` per function, upload them,
                      write .local/infra/packaged.json (the template with S3 CodeUris)
  deploy.py deploy    create or update the stack (change set), wait for it
  deploy.py verify    every queue, DLQ, redrive policy, event source mapping, schedule,
                      bucket setting and policy, topic and log group is there, as the
                      template says (tests/infra.rs ties the template to the routing table)
  deploy.py e2e       an image added through the deployed api function is analysed by the
                      deployed analyze function (LocalStack's SQS event source mapping),
                      which hands it on to evaluate (the next mapping)
  deploy.py destroy   delete the stack

Environment: AWS_ENDPOINT_URL (LocalStack), DEPLOY_DATABASE_URL, CUSTOMS_ADMIN_PASSWORD,
CUSTOMS_TEST_REGISTRY, CUSTOMS_STAGE (default "local"), CUSTOMS_STATE, CUSTOMS_ROOT.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import sys
import time
import urllib.parse
import uuid
import zipfile
from pathlib import Path

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(os.environ.get("CUSTOMS_ROOT", Path(__file__).resolve().parents[2]))
STATE = Path(os.environ.get("CUSTOMS_STATE", ROOT / ".local"))
WORK = STATE / "infra"
TEMPLATE = ROOT / "infra" / "template.yaml"
PACKAGED = WORK / "packaged.json"
STAGE = os.environ.get("CUSTOMS_STAGE", "local")
STACK = f"customs-{STAGE}"
ARTIFACTS_BUCKET = f"customs-{STAGE}-deploy-artifacts"
ACCOUNT = "000000000000"


def log(msg: str) -> None:
    print(f"[deploy {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class CheckFailed(Exception):
    pass


def client(service: str):
    kw = dict(
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}, read_timeout=330),
    )
    return boto3.client(service, **kw)


# ---------------------------------------------------------------------------- template
class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags as the long-form intrinsics."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def functions(tpl: dict) -> dict[str, dict]:
    """Logical id -> resource, for every SAM function."""
    return {k: r for k, r in tpl["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def sub(value, names: dict[str, str]) -> str:
    """Resolves a `!Sub` string (or plain string) with the given names."""
    s = value["Fn::Sub"] if isinstance(value, dict) else value
    for k, v in names.items():
        s = s.replace("${" + k + "}", v)
    return s


def param_value(tpl: dict, params: dict[str, str], value):
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return params.get(name, tpl["Parameters"].get(name, {}).get("Default"))
    return value


# ---------------------------------------------------------------------------- package
def host_arch() -> str:
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]


def cmd_package() -> None:
    tpl = load_template()
    zips = WORK / "zips"
    zips.mkdir(parents=True, exist_ok=True)
    s3 = client("s3")
    try:
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    for res in functions(tpl).values():
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        exe = ROOT / "target" / "debug" / binary
        if not exe.is_file():
            raise CheckFailed(f"{exe} is missing; run `cargo build --workspace` first")
        zpath = zips / f"{binary}.zip"
        if not zpath.exists() or zpath.stat().st_mtime < exe.stat().st_mtime:
            info = zipfile.ZipInfo("bootstrap", date_time=time.localtime(exe.stat().st_mtime)[:6])
            info.external_attr = (0o100755 << 16)
            info.compress_type = zipfile.ZIP_DEFLATED
            tmp = zpath.with_suffix(".tmp")
            with zipfile.ZipFile(tmp, "w") as z, exe.open("rb") as f:
                z.writestr(info, f.read(), compresslevel=1)
            tmp.replace(zpath)
        key = f"{binary}-{int(zpath.stat().st_mtime)}.zip"
        s3.upload_file(str(zpath), ARTIFACTS_BUCKET, key)
        res["Properties"]["CodeUri"] = {"Bucket": ARTIFACTS_BUCKET, "Key": key}
    tpl["Globals"]["Function"].pop("CodeUri", None)
    PACKAGED.write_text(json.dumps(tpl, indent=1))
    log(f"packaged {len(functions(tpl))} functions from target/debug into s3://{ARTIFACTS_BUCKET} ({PACKAGED})")


# ---------------------------------------------------------------------------- deploy
def stack_params() -> dict[str, str]:
    db = os.environ.get("DEPLOY_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if not db:
        raise CheckFailed("DEPLOY_DATABASE_URL (or DATABASE_URL) is not set")
    return {
        "Stage": STAGE,
        "Architecture": host_arch(),  # the host executor runs the host's binaries
        "CreateAlarms": "false",  # CloudWatch is not among the LocalStack services started
        "CreateHttpApi": "false",  # API Gateway v2 is not in LocalStack's free edition
        "DatabaseUrl": db,
        "AdminPassword": os.environ.get("CUSTOMS_ADMIN_PASSWORD", "admin"),
        "SecretsKey": secrets_key(),
        "AllowPrivateRegistries": "true",  # the test registry is on 127.0.0.1
        "S3ForcePathStyle": "true",
        "LogRetentionDays": "1",
    }


def secrets_key() -> str:
    """CUSTOMS_SECRETS_KEY, else a key kept in .local/infra/secrets-key for this machine."""
    if os.environ.get("CUSTOMS_SECRETS_KEY"):
        return os.environ["CUSTOMS_SECRETS_KEY"]
    path = WORK / "secrets-key"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b64encode(os.urandom(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def cmd_deploy() -> None:
    cfn = client("cloudformation")
    body = PACKAGED.read_text()
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in stack_params().items()]
    try:
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    except ClientError:
        status = None
    if status in ("ROLLBACK_COMPLETE", "CREATE_FAILED", "DELETE_FAILED"):
        log(f"stack {STACK} is {status}; deleting it first")
        cmd_destroy()
        status = None
    kind = "UPDATE" if status else "CREATE"
    name = f"deploy-{int(time.time())}"
    t0 = time.monotonic()
    # Inline template bodies are limited to 51 200 bytes; an S3 URL takes up to 1 MB, as
    # `aws cloudformation deploy --s3-bucket` does.
    key = f"templates/{name}.json"
    client("s3").put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=body.encode())
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566").rstrip("/")
    cfn.create_change_set(
        StackName=STACK,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateURL=f"{endpoint}/{ARTIFACTS_BUCKET}/{key}",
        Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cs = wait_for(lambda: cfn.describe_change_set(StackName=STACK, ChangeSetName=name),
                  lambda c: c["Status"] in ("CREATE_COMPLETE", "FAILED"), 120, "change set")
    if cs["Status"] == "FAILED":
        if "didn't contain changes" in cs.get("StatusReason", "") or "No updates" in cs.get("StatusReason", ""):
            log(f"stack {STACK} is up to date")
            return
        raise CheckFailed(f"change set failed: {cs.get('StatusReason')}")
    cfn.execute_change_set(StackName=STACK, ChangeSetName=name)
    done = wait_for(lambda: cfn.describe_stacks(StackName=STACK)["Stacks"][0],
                    lambda s: not s["StackStatus"].endswith("_IN_PROGRESS"), 600, "stack")
    if done["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in e["ResourceStatus"]]
        raise CheckFailed(f"stack {STACK} ended {done['StackStatus']}:\n  " + "\n  ".join(failed[:10]))
    log(f"stack {STACK} {done['StackStatus']} in {time.monotonic() - t0:.0f} s")


def cmd_destroy() -> None:
    cfn = client("cloudformation")
    try:
        cfn.describe_stacks(StackName=STACK)
    except ClientError:
        return
    # The bucket must be empty before CloudFormation can delete it.
    try:
        bucket = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="StagingBucket")["StackResourceDetail"]["PhysicalResourceId"]
        s3 = client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=o["Key"])
    except ClientError:
        pass
    cfn.delete_stack(StackName=STACK)
    wait_for(lambda: _stack_or_none(cfn), lambda s: s is None or s["StackStatus"] in ("DELETE_COMPLETE", "DELETE_FAILED"), 300, "stack deletion")
    log(f"stack {STACK} deleted")


def _stack_or_none(cfn):
    try:
        return cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    except ClientError:
        return None


def wait_for(get, done, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


# ---------------------------------------------------------------------------- verify
# Properties LocalStack's CloudFormation providers accept but do not apply (2026.3.0); for
# these, verify checks the stack's processed template instead of the live resource.
NOT_APPLIED_BY_LOCALSTACK = {
    "AWS::Logs::LogGroup.RetentionInDays",
    "AWS::S3::Bucket.LifecycleConfiguration",
    "AWS::Lambda::Function.ReservedConcurrentExecutions",
}


class Checker:
    def __init__(self, processed: dict) -> None:
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.count = 0
        self.processed = processed["Resources"]

    def live_or_template(self, what: str, found, expected, rid: str, prop: str) -> None:
        """`found` (live) must equal `expected`; when LocalStack does not apply `prop`, the
        processed template must carry it instead."""
        ty = self.processed.get(rid, {}).get("Type", "")
        if found != expected and f"{ty}.{prop}" in NOT_APPLIED_BY_LOCALSTACK and found in (None, [None], []):
            self.true(f"{what}: {rid}.{prop} in the processed template",
                      prop in self.processed.get(rid, {}).get("Properties", {}))
            self.notes.append(f"{what}: not applied by LocalStack; checked in the processed template")
            return
        self.eq(what, found, expected)

    def eq(self, what: str, found, expected) -> None:
        self.count += 1
        if found != expected:
            self.failures.append(f"{what}: found {found!r}, expected {expected!r}")

    def true(self, what: str, ok: bool) -> None:
        self.count += 1
        if not ok:
            self.failures.append(what)


def cmd_verify() -> None:
    tpl = load_template()
    params = stack_params()
    names = {"Stage": STAGE, "AWS::AccountId": ACCOUNT, "AWS::Region": os.environ.get("AWS_REGION", "us-east-1")}
    res = tpl["Resources"]
    processed = client("cloudformation").get_template(StackName=STACK, TemplateStage="Processed")["TemplateBody"]
    c = Checker(processed if isinstance(processed, dict) else json.loads(processed))
    sqs, lam, events, s3, sns, logs = (client(s) for s in ("sqs", "lambda", "events", "s3", "sns", "logs"))

    # Queues and DLQs, with redrive policies.
    arns: dict[str, str] = {}
    urls: dict[str, str] = {}
    for rid, r in res.items():
        if r["Type"] != "AWS::SQS::Queue":
            continue
        qname = sub(r["Properties"]["QueueName"], names)
        try:
            url = sqs.get_queue_url(QueueName=qname)["QueueUrl"]
        except ClientError:
            c.true(f"queue {qname} exists", False)
            continue
        urls[rid] = url
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        arns[rid] = attrs["QueueArn"]
        p = r["Properties"]
        if "VisibilityTimeout" in p:
            c.eq(f"{qname} VisibilityTimeout", attrs.get("VisibilityTimeout"), str(p["VisibilityTimeout"]))
        c.eq(f"{qname} MessageRetentionPeriod", attrs.get("MessageRetentionPeriod"), str(p["MessageRetentionPeriod"]))
        c.eq(f"{qname} SqsManagedSseEnabled", attrs.get("SqsManagedSseEnabled"), "true")
        if "RedrivePolicy" in p:
            rp = json.loads(attrs.get("RedrivePolicy", "{}"))
            dlq_id = p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            dlq_name = sub(res[dlq_id]["Properties"]["QueueName"], names)
            c.eq(f"{qname} redrive target", rp.get("deadLetterTargetArn", "").rsplit(":", 1)[-1], dlq_name)
            c.eq(f"{qname} maxReceiveCount", int(rp.get("maxReceiveCount", 0)), int(p["RedrivePolicy"]["maxReceiveCount"]))
        else:
            c.true(f"{qname} (a DLQ) has no redrive policy", "RedrivePolicy" not in attrs)

    # Functions and their SQS event source mappings.
    for rid, r in functions(tpl).items():
        p = r["Properties"]
        fname = sub(p["FunctionName"], names)
        try:
            cfg = lam.get_function_configuration(FunctionName=fname)
        except ClientError:
            c.true(f"function {fname} exists", False)
            continue
        c.eq(f"{fname} runtime", cfg["Runtime"], "provided.al2023")
        c.eq(f"{fname} timeout", cfg["Timeout"], int(p["Timeout"]))
        c.eq(f"{fname} memory", cfg["MemorySize"], int(param_value(tpl, params, p["MemorySize"])))
        env = cfg.get("Environment", {}).get("Variables", {})
        c.eq(f"{fname} CUSTOMS_QUEUE_PREFIX", env.get("CUSTOMS_QUEUE_PREFIX"), f"customs-{STAGE}-")
        c.true(f"{fname} CUSTOMS_BUCKET set", bool(env.get("CUSTOMS_BUCKET")))
        c.true(f"{fname} DATABASE_URL set", bool(env.get("DATABASE_URL")))
        role_id = p["Role"]["Fn::GetAtt"][0]
        c.true(f"{fname} has its own role ({role_id})", role_id.startswith(rid.removesuffix("Function")))
        if "ReservedConcurrentExecutions" in p:
            want = param_value(tpl, params, p["ReservedConcurrentExecutions"]["Fn::If"][1])
            got = lam.get_function_concurrency(FunctionName=fname).get("ReservedConcurrentExecutions")
            c.live_or_template(f"{fname} reserved concurrency", got, int(want), rid, "ReservedConcurrentExecutions")
        mappings = lam.list_event_source_mappings(FunctionName=fname)["EventSourceMappings"]
        sources = {e: v["Properties"] for e, v in (p.get("Events") or {}).items() if v["Type"] == "SQS"}
        c.eq(f"{fname} event source mappings", len(mappings), len(sources))
        for ev in sources.values():
            qid = ev["Queue"]["Fn::GetAtt"][0]
            m = [m for m in mappings if m["EventSourceArn"] == arns.get(qid)]
            if not m:
                c.true(f"{fname} has a mapping from {qid}", False)
                continue
            m = m[0]
            c.eq(f"{fname} <- {qid} batch size", m["BatchSize"], int(ev["BatchSize"]))
            c.eq(f"{fname} <- {qid} response types", m.get("FunctionResponseTypes"), ["ReportBatchItemFailures"])
            c.eq(f"{fname} <- {qid} maximum concurrency", m.get("ScalingConfig", {}).get("MaximumConcurrency"),
                 int(ev["ScalingConfig"]["MaximumConcurrency"]))
            c.true(f"{fname} <- {qid} enabled (state {m.get('State')})", m.get("State") in ("Enabled", "Enabling", "Creating"))
        lg_id = f"{rid.removesuffix('Function')}LogGroup"
        lg = sub(res[lg_id]["Properties"]["LogGroupName"], names)
        groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=lg)["logGroups"] if g["logGroupName"] == lg]
        c.eq(f"log group {lg} exists", len(groups), 1)
        c.live_or_template(f"log group {lg} retention", [g.get("retentionInDays") for g in groups],
                           [int(params["LogRetentionDays"])], lg_id, "RetentionInDays")

    # Schedules: rule, rate, target queue, input, and the queue policy that lets them send.
    for r in res.values():
        if r["Type"] != "AWS::Events::Rule":
            continue
        p = r["Properties"]
        rule = sub(p["Name"], names)
        try:
            got = events.describe_rule(Name=rule)
        except ClientError:
            c.true(f"rule {rule} exists", False)
            continue
        c.eq(f"{rule} schedule", got.get("ScheduleExpression"), p["ScheduleExpression"])
        c.eq(f"{rule} state", got.get("State"), "ENABLED")
        targets = events.list_targets_by_rule(Rule=rule)["Targets"]
        want = p["Targets"][0]
        qid = want["Arn"]["Fn::GetAtt"][0]
        c.eq(f"{rule} targets", [(t["Arn"], json.loads(t.get("Input", "null"))) for t in targets],
             [(arns.get(qid), json.loads(want["Input"]))])
        pol = json.loads(sqs.get_queue_attributes(QueueUrl=urls[qid], AttributeNames=["Policy"])["Attributes"].get("Policy", "{}"))
        c.true(f"{rule}: queue policy of {qid} lets events.amazonaws.com send for this rule", any(
            st.get("Principal", {}).get("Service") == "events.amazonaws.com"
            and st.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn") == got["Arn"]
            for st in pol.get("Statement", [])))

    # Staging bucket: encryption, public access block, lifecycle, TLS-only policy.
    bucket = sub(res["StagingBucket"]["Properties"]["BucketName"], names)
    try:
        enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        c.eq(f"{bucket} encryption", enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        blocks = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        c.eq(f"{bucket} public access block", pab, dict.fromkeys(blocks, True))
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        layers = [r for r in rules if r.get("Filter", {}).get("Prefix", r.get("Prefix")) == "layers/"]
        expiry = res["StagingBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"]
        c.live_or_template(f"{bucket} layers/ expiry", [r.get("Expiration", {}).get("Days") for r in layers],
                           [int(param_value(tpl, params, expiry))], "StagingBucket", "LifecycleConfiguration")
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        c.true(f"{bucket} policy denies non-TLS access", any(
            st["Effect"] == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
            for st in policy["Statement"]))
    except ClientError as e:
        c.true(f"bucket {bucket}: {e}", False)

    # Topic.
    topic = sub(res["EventsTopic"]["Properties"]["TopicName"], names)
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    c.true(f"topic {topic} exists", any(t.endswith(f":{topic}") for t in topics))

    for n in c.notes:
        log(f"note: {n}")
    if c.failures:
        raise CheckFailed(f"{len(c.failures)} of {c.count} checks failed:\n  " + "\n  ".join(c.failures))
    log(f"verify: {c.count} checks passed ({len(c.notes)} from the processed template)")


# ---------------------------------------------------------------------------- end to end
def http_event(method: str, path: str, query: str = "", body: dict | None = None) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, as the HTTP API would send it."""
    auth = base64.b64encode(f"admin:{os.environ.get('CUSTOMS_ADMIN_PASSWORD', 'admin')}".encode()).decode()
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"authorization": f"Basic {auth}", "content-type": "application/json", "host": "localhost"},
        "queryStringParameters": dict(urllib.parse.parse_qsl(query)) or None,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "deploy-check"},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def call_api(lam, fname: str, method: str, path: str, query: str = "", body: dict | None = None):
    r = lam.invoke(FunctionName=fname, Payload=json.dumps(http_event(method, path, query, body)).encode())
    out = json.loads(r["Payload"].read() or b"null")
    if r.get("FunctionError"):
        raise CheckFailed(f"api function failed on {method} {path}: {out}")
    status = out.get("statusCode")
    text = base64.b64decode(out["body"]).decode() if out.get("isBase64Encoded") else (out.get("body") or "")
    return status, (json.loads(text) if text else None)


def cmd_e2e() -> None:
    lam, sqs, logs = client("lambda"), client("sqs"), client("logs")
    registry = os.environ.get("CUSTOMS_TEST_REGISTRY", "127.0.0.1:5000")
    tag = f"{registry}/customs/tiny:latest"
    api, evaluate = f"customs-{STAGE}-api", f"customs-{STAGE}-evaluate"
    t0 = time.monotonic()
    started_ms = int(time.time() * 1000) - 1000
    status, added = call_api(lam, api, "POST", "/v1/images", "force=true", {"tag": tag})
    if status != 200 or not added:
        raise CheckFailed(f"POST /v1/images through {api}: HTTP {status}: {added}")
    log(f"added {tag} through the api function (status {added[0]['analysis_status']}); waiting for analyze")
    record = None
    deadline = time.monotonic() + 90
    query = urllib.parse.urlencode({"fulltag": tag})
    while time.monotonic() < deadline:
        status, records = call_api(lam, api, "GET", "/v1/images", query)
        record = records[0] if status == 200 and records else None
        if record and record["analysis_status"] in ("analyzed", "analysis_failed"):
            break
        time.sleep(0.5)
    if not record or record["analysis_status"] != "analyzed":
        raise CheckFailed(f"image not analysed within 90 s: {record and {k: record.get(k) for k in ('analysis_status', 'analysis_error')}}")
    log(f"{record['imageDigest']} analysed by the deployed analyze function in {time.monotonic() - t0:.1f} s "
        f"({record['image_content']['metadata']['layer_count']} layers)")

    # analyze put an EvaluateImage on the evaluate queue; LocalStack's mapping must hand it
    # to the evaluate function (whose invocation logs land in its log group).
    group = f"/aws/lambda/{evaluate}"
    def evaluate_ran() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=group, startTime=started_ms)
        except ClientError:
            return False
        return bool(found["events"])
    wait_for(evaluate_ran, bool, 30, f"an invocation of {evaluate} (logs in {group})")
    log(f"{evaluate} was invoked by its event source mapping")

    for name in ("analyze", "stage-layer", "evaluate"):
        url = sqs.get_queue_url(QueueName=f"customs-{STAGE}-{name}-dlq")["QueueUrl"]
        n = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
        if n:
            raise CheckFailed(f"{n} message(s) in customs-{STAGE}-{name}-dlq")
    log(f"e2e passed in {time.monotonic() - t0:.1f} s")


COMMANDS = {"package": cmd_package, "deploy": cmd_deploy, "verify": cmd_verify, "e2e": cmd_e2e, "destroy": cmd_destroy}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(COMMANDS)}}}")
    try:
        COMMANDS[sys.argv[1]]()
    except CheckFailed as e:
        log(f"FAILED: {e}")
        sys.exit(1)
