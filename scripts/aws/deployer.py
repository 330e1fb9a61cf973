"""Deploy (create or update) the maintenance endpoint and publish its page.

``Deployer.run()`` reads as its steps: plan (local checks, one DescribeStacks) -> up to
date? (template and parameters equal to the deployed ones: no change set at all) ->
change set (shown, confirmed when it replaces or removes a resource, executed with the
stack events streamed) -> publish the page (skipped when S3 has the same bytes) ->
invalidate (when the page changed, or an earlier run stopped before doing it) -> summary.

A no-op redeploy makes three read calls and no writes: DescribeStacks, GetTemplate,
HeadObject. Parameters not given keep their deployed value on an update
(``UsePreviousValue``) and take the template default on a create. An interrupted run
deletes the change set it made (and the empty stack a CREATE change set leaves), so a
re-run starts clean.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..core.console import confirm, ctrl_c_deferred, format_elapsed, info
from ..core.errors import ExitCode, UserError, one_line
from ..template.overrides import (
    api_parameters,
    check_rules,
    effective_parameters,
    load_template,
    parameters_unchanged,
    template_body,
    validate_overrides,
)
from .clients import Clients, StackWatcher, describe_stack, outputs_of
from .invalidation import create_invalidation, earlier_invalidation, wait_for_invalidation
from .page import DEFAULT_CONTENT, default_object_key, read_content, upload_content

DEFAULT_TIMEOUT_MINUTES = 30.0
CHANGE_SET_PREFIX = "maintenance-endpoint-"
NO_CHANGES_MARKERS = ("didn't contain changes", "no updates are to be performed")

# Stack states an update may start from; https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
             "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}


# ---------------------------------------------------------------------------------------
# Stack state and change sets


def check_state(stack: dict | None, stack_name: str) -> None:
    """``UserError`` (ExitCode.STACK_STATE) when the stack's state blocks a deploy."""
    if stack is None:
        return
    status = stack["StackStatus"]
    if status in UPDATABLE or status == "REVIEW_IN_PROGRESS":
        return
    if status == "ROLLBACK_COMPLETE":
        raise UserError(
            f"Stack {stack_name} is in ROLLBACK_COMPLETE (its creation failed) and cannot be "
            f"updated: delete it with `maintenance-endpoint destroy --stack-name {stack_name}` "
            "and deploy again.", ExitCode.STACK_STATE)
    if status.endswith("_IN_PROGRESS"):
        raise UserError(f"Stack {stack_name} is busy ({status}); wait for it to finish, then "
                        "re-run deploy.", ExitCode.STACK_STATE)
    if status == "UPDATE_ROLLBACK_FAILED":
        raise UserError(
            f"Stack {stack_name} is in UPDATE_ROLLBACK_FAILED: fix the cause shown in its "
            f"events, run `aws cloudformation continue-update-rollback --stack-name "
            f"{stack_name}`, then deploy again.", ExitCode.STACK_STATE)
    raise UserError(f"Stack {stack_name} is in {status} and cannot be updated: destroy it "
                    f"with `maintenance-endpoint destroy --stack-name {stack_name}` and deploy "
                    "again.", ExitCode.STACK_STATE)


def wait_for_change_set(cfn, change_set_id: str, *, timeout: float, poll_interval: float,
                        clock: Callable[[], float], sleep: Callable[[float], None],
                        out: TextIO | None = None) -> dict:
    """Poll describe_change_set until CREATE_COMPLETE or FAILED; collect every page of
    Changes. Returns the description with all ``Changes``."""
    start = clock()
    deadline = start + timeout
    while True:
        desc = cfn.describe_change_set(ChangeSetName=change_set_id)
        if desc["Status"] in ("CREATE_COMPLETE", "FAILED"):
            changes = list(desc.get("Changes", []))
            token = desc.get("NextToken")
            while token:
                page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)
                changes.extend(page.get("Changes", []))
                token = page.get("NextToken")
            desc["Changes"] = changes
            return desc
        if clock() >= deadline:
            raise UserError(f"Change set {change_set_id} is still {desc['Status']} after "
                            f"{format_elapsed(timeout)} (min:s).", ExitCode.TIMEOUT)
        info(f"Change set still {desc['Status']} after {format_elapsed(clock() - start)} (min:s)...",
             file=out)
        sleep(poll_interval)


def change_rows(changes: list[dict]) -> list[dict]:
    rows = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        rows.append({"action": rc.get("Action", ""),
                     "logical_id": rc.get("LogicalResourceId", ""),
                     "type": rc.get("ResourceType", ""),
                     "replacement": rc.get("Replacement", "") or "-"})
    return rows


def format_table(rows: list[dict]) -> str:
    headers = {"action": "Action", "logical_id": "Logical ID", "type": "Type",
               "replacement": "Replacement"}
    widths = {k: max([len(h)] + [len(r[k]) for r in rows]) for k, h in headers.items()}
    lines = ["  ".join(h.ljust(widths[k]) for k, h in headers.items()),
             "  ".join("-" * widths[k] for k in headers)]
    lines += ["  ".join(r[k].ljust(widths[k]) for k in headers) for r in rows]
    return "\n".join(lines)


def destructive(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["action"] == "Remove"
            or r["replacement"] in ("True", "Conditional")]


def is_no_changes(reason: str) -> bool:
    reason = reason.lower()
    return any(marker in reason for marker in NO_CHANGES_MARKERS)


# ---------------------------------------------------------------------------------------
# The whole deploy


@dataclass
class Plan:
    """What this run will deploy, worked out before any write."""

    data: bytes
    content_type: str
    sha256: str
    template: dict
    overrides: dict[str, str]
    stack: dict | None  # the live stack, None when it does not exist
    previous: dict[str, str] | None  # its parameter values
    effective: dict[str, str] = field(default_factory=dict)
    waited_for: str | None = None  # the *_IN_PROGRESS status found, and waited out, first

    @property
    def exists(self) -> bool:
        return self.previous is not None


@dataclass
class Deployer:
    """One deploy of ``stack_name``; the methods are its steps. Waits and polls take
    ``clock``/``sleep``/``poll_interval`` so tests can make them instant."""

    clients: Clients
    stack_name: str
    content: Path = DEFAULT_CONTENT
    overrides: dict[str, str] = field(default_factory=dict)
    yes: bool = False
    execute: bool = True
    invalidate: bool = True
    wait: bool = True
    timeout: float = DEFAULT_TIMEOUT_MINUTES * 60
    invalidation_timeout: float | None = None
    poll_interval: float = 5.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    out: TextIO = field(default_factory=lambda: sys.stderr)
    confirm_fn: Callable[[str], None] | None = None
    template: dict | None = None
    change_set_name: str | None = None

    def run(self) -> dict:
        start = self.clock()
        plan = self.plan()
        result: dict[str, Any] = {"stack_name": self.stack_name, "change_set": None,
                                  "changes": [], "upload": None, "invalidation": None,
                                  "waited_for": plan.waited_for}
        if self.up_to_date(plan):
            result["action"], stack = "unchanged", plan.stack
        else:
            result["action"], stack = self.change_set(plan, result)
            if result["action"] == "change-set-created":
                result["elapsed_seconds"] = round(self.clock() - start, 1)
                return result
        assert stack is not None  # unchanged, created or updated: the stack exists
        result["stack_status"] = stack["StackStatus"]
        outputs = outputs_of(stack)
        created = result["action"] == "created"
        result["upload"] = self.publish_page(plan, outputs, created)
        result["invalidation"] = self.invalidate_page(result["upload"], outputs, created)
        result.update(self.summary(outputs, result["upload"]),
                      elapsed_seconds=round(self.clock() - start, 1))
        return result

    # 1. Plan: local checks first, then one read; no writes.
    def plan(self) -> Plan:
        data, content_type, sha256 = read_content(self.content)
        template = self.template if self.template is not None else load_template()
        overrides = validate_overrides(template, dict(self.overrides))
        stack = describe_stack(self.clients.cfn, self.stack_name)
        stack, waited_for = self.settle(stack)
        check_state(stack, self.stack_name)
        # A REVIEW_IN_PROGRESS stack is the empty shell of a CREATE change set never
        # executed: it is created anew.
        live = stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
        previous = ({p["ParameterKey"]: p.get("ParameterValue", "")
                     for p in stack.get("Parameters", [])} if live and stack is not None else None)
        key_spec = template.get("Parameters", {}).get("MaintenanceObjectKey")
        if key_spec is not None and "MaintenanceObjectKey" not in overrides:
            deployed_key = (previous or {}).get("MaintenanceObjectKey")
            key = default_object_key(self.content, deployed_key)
            if key != (deployed_key or key_spec.get("Default")):
                overrides["MaintenanceObjectKey"] = key
        plan = Plan(data, content_type, sha256, template, overrides, stack, previous,
                    waited_for=waited_for)
        plan.effective = effective_parameters(template, overrides, previous)
        check_rules(plan.effective)
        return plan

    def settle(self, stack: dict | None) -> tuple[dict | None, str | None]:
        """Wait out an operation already under way (an interrupted run's, or someone
        else's) so the re-run of an interrupted deploy finishes the job instead of
        failing as busy. Returns the settled stack (None once deleted) and the status
        that was waited for."""
        status = (stack or {}).get("StackStatus", "")
        if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return stack, None
        info(f"Stack {self.stack_name} is {status} (an earlier run, or someone else, started "
             "it): waiting for that to finish first...", file=self.out)
        assert stack is not None  # it has a status
        watcher = StackWatcher(self.clients.cfn, stack["StackId"], out=self.out,
                               clock=self.clock, sleep=self.sleep,
                               poll_interval=self.poll_interval)
        final = watcher.wait(self.timeout, action="deploy")
        if final is None or final["StackStatus"] == "DELETE_COMPLETE":
            final = None
        return final, status

    # 2. Up to date? Same parameters and the same template: no change set at all.
    def up_to_date(self, plan: Plan) -> bool:
        if not plan.exists or not parameters_unchanged(plan.template, plan.overrides,
                                                       plan.previous or {}):
            return False
        deployed = self.clients.cfn.get_template(StackName=self.stack_name,
                                                 TemplateStage="Original")
        body = deployed.get("TemplateBody")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                body = None  # YAML or garbage: not ours, let the change set decide
        if body != plan.template:
            return False
        info(f"No changes to deploy. Stack {self.stack_name} is up to date (template and "
             "parameters match; no change set needed).", file=self.out)
        return True

    # 3. Change set: create, show, confirm, execute, wait.
    def change_set(self, plan: Plan, result: dict) -> tuple[str, dict | None]:
        cfn = self.clients.cfn
        change_type = "UPDATE" if plan.exists else "CREATE"
        # Unique per run: two runs within one second must not collide.
        name = self.change_set_name or f"{CHANGE_SET_PREFIX}{uuid.uuid4().hex[:16]}"
        if plan.stack is not None and not plan.exists:
            # The empty shell of a CREATE change set: an earlier run stopped before it
            # could delete its change set (a Ctrl-C during CreateChangeSet itself).
            self._delete_stale_change_sets()
        response = cfn.create_change_set(
            StackName=self.stack_name, ChangeSetName=name, ChangeSetType=change_type,
            TemplateBody=template_body(plan.template),
            Parameters=api_parameters(plan.template, plan.overrides, plan.previous),
            Description="Created by maintenance-endpoint deploy")
        change_set_id, stack_id = response["Id"], response["StackId"]
        result["change_set"] = {"name": name, "id": change_set_id, "type": change_type,
                                "status": "CREATE_PENDING"}
        try:
            info(f"Created {change_type} change set {name}; waiting for CloudFormation to "
                 "compute it...", file=self.out)
            desc = wait_for_change_set(cfn, change_set_id, timeout=self.timeout,
                                       poll_interval=self.poll_interval, clock=self.clock,
                                       sleep=self.sleep, out=self.out)
            result["change_set"]["status"] = desc["Status"]
            result["changes"] = rows = change_rows(desc["Changes"])
            if desc["Status"] == "FAILED":
                reason = desc.get("StatusReason", "") or "no reason given"
                if is_no_changes(reason) and plan.exists:
                    self._discard(change_set_id, stack_id, plan)
                    info(f"No changes to deploy. Stack {self.stack_name} is up to date.",
                         file=self.out)
                    return "unchanged", plan.stack
                raise UserError(f"The change set for stack {self.stack_name} failed: "
                                f"{reason.rstrip('.')}.", ExitCode.FAILED)
            info(format_table(rows), file=self.out)
            if not self.execute:
                return "change-set-created", {}
            self._confirm(rows)
        except BaseException:
            # Nothing was executed: leave nothing behind.
            self._discard(change_set_id, stack_id, plan)
            raise
        watcher = StackWatcher(cfn, stack_id, out=self.out, clock=self.clock,
                               sleep=self.sleep, poll_interval=self.poll_interval)
        watcher.mark()
        cfn.execute_change_set(ChangeSetName=change_set_id)
        info(f"Executing change set {name} on stack {self.stack_name}...", file=self.out)
        final = watcher.wait(self.timeout, action="deploy")
        status = final["StackStatus"] if final else "DELETE_COMPLETE"
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise deploy_failure(self.stack_name, status, watcher.failure_reason())
        return ("created" if change_type == "CREATE" else "updated"), final

    def _confirm(self, rows: list[dict]) -> None:
        risky = destructive(rows)
        if not risky or self.yes:
            return
        question = ("This change set replaces or removes " + ", ".join(
            f"{r['logical_id']} ({r['action']}, replacement {r['replacement']})"
            for r in risky) + ". Execute it?")
        ask = self.confirm_fn or (lambda q: confirm(q, yes=False, what="replace or remove "
                                                    "resources", out=self.out))
        ask(question)

    def _discard(self, change_set_id: str, stack_id: str, plan: Plan) -> None:
        """Delete the change set (and the empty stack a CREATE change set leaves behind);
        best effort, so the error that led here is the one reported. A second Ctrl-C
        does not cut this short (each call is bounded by aws.LIMITS)."""
        cfn = self.clients.cfn
        with ctrl_c_deferred():
            try:
                info(f"Deleting change set {change_set_id}, which was not executed...",
                     file=self.out)
                cfn.delete_change_set(ChangeSetName=change_set_id)
                if not plan.exists and plan.stack is None:
                    cfn.delete_stack(StackName=stack_id)
            except Exception as exc:  # noqa: BLE001 - reported, then the first error wins
                info(f"Could not delete change set {change_set_id}: {one_line(exc)}; the next "
                     "deploy deletes it, or delete it by hand.", file=self.out)

    def _delete_stale_change_sets(self) -> None:
        """Delete change sets an earlier run made and never executed (it was stopped
        before it could delete them); ones still being computed are left alone."""
        cfn = self.clients.cfn
        for page in cfn.get_paginator("list_change_sets").paginate(StackName=self.stack_name):
            for cs in page.get("Summaries", []):
                if cs.get("ChangeSetName", "").startswith(CHANGE_SET_PREFIX) \
                        and cs.get("Status") in ("CREATE_COMPLETE", "FAILED") \
                        and cs.get("ExecutionStatus") != "EXECUTE_IN_PROGRESS":
                    info(f"Deleting change set {cs['ChangeSetName']}, left by an earlier run.",
                         file=self.out)
                    cfn.delete_change_set(ChangeSetName=cs["ChangeSetId"])

    # 4. Publish the page.
    def publish_page(self, plan: Plan, outputs: dict, created: bool) -> dict:
        bucket = outputs.get("BucketName")
        key = outputs.get("MaintenanceObjectKey") or plan.effective.get("MaintenanceObjectKey")
        if not bucket or not key:
            raise UserError(f"Stack {self.stack_name} has no BucketName/MaintenanceObjectKey "
                            "output: it was not created from this project's template.",
                            ExitCode.STACK_STATE)
        # A distribution created in this run has nothing cached: no invalidation needed.
        return upload_content(self.clients.s3, bucket, key, plan.data, plan.content_type,
                              plan.sha256, needs_invalidation=not created, out=self.out)

    # 5. Invalidate when the page changed, or an earlier run stopped before doing it.
    def invalidate_page(self, upload: dict, outputs: dict, created: bool) -> dict | None:
        cloudfront = self.clients.cloudfront
        distribution_id = outputs.get("DistributionId", "")
        needed = upload["uploaded"] and not created
        if not needed and upload["invalidation"] == "required" and self.invalidate \
                and distribution_id:
            missed, earlier = earlier_invalidation(
                cloudfront, distribution_id, "/" + upload["key"], upload["last_modified"])
            if missed:
                info("The page was uploaded recently but never invalidated (an earlier run "
                     "stopped early): invalidating now.", file=self.out)
                needed = True
            elif earlier is not None and earlier.get("Status", "").lower() != "completed":
                info(f"Invalidation {earlier['Id']} of the page, created by an earlier run, "
                     f"is still {earlier.get('Status')}.", file=self.out)
                return self._finish_invalidation(distribution_id, earlier, earlier=True)
        if not needed:
            return None
        if not self.invalidate:
            info("Not invalidating (--no-invalidate): the edge may serve the old page for up "
                 "to 24 hours.", file=self.out)
            return {"id": None, "status": "skipped (--no-invalidate)"}
        inv = create_invalidation(cloudfront, distribution_id, ["/*"])
        info(f"Created invalidation {inv['Id']} of /* on distribution {distribution_id}.",
             file=self.out)
        return self._finish_invalidation(distribution_id, inv, earlier=False)

    def _finish_invalidation(self, distribution_id: str, inv: dict, *, earlier: bool) -> dict:
        if self.wait and inv.get("Status", "").lower() != "completed":
            inv = wait_for_invalidation(
                self.clients.cloudfront, distribution_id, inv["Id"],
                timeout=self.invalidation_timeout if self.invalidation_timeout is not None
                else self.timeout,
                poll_interval=self.poll_interval, clock=self.clock, sleep=self.sleep,
                out=self.out)
        return {"id": inv["Id"], "status": inv.get("Status", ""), "earlier_run": earlier}

    # 6. Summary.
    @staticmethod
    def summary(outputs: dict, upload: dict) -> dict:
        domain = outputs.get("DistributionDomainName", "")
        return {"endpoint_url": outputs.get("EndpointUrl", ""),
                "distribution_id": outputs.get("DistributionId", ""),
                "distribution_domain_name": domain, "bucket": upload["bucket"],
                "object_key": upload["key"], "proxy": {"host_header": domain, "sni": domain}}


def deploy_failure(stack_name: str, status: str, why: str) -> UserError:
    if status == "ROLLBACK_COMPLETE":
        return UserError(f"Creating stack {stack_name} failed and was rolled back: {why}; "
                         f"delete it with `maintenance-endpoint destroy --stack-name "
                         f"{stack_name}` and deploy again.", ExitCode.FAILED)
    if status == "UPDATE_ROLLBACK_COMPLETE":
        return UserError(f"Updating stack {stack_name} failed and was rolled back to its "
                         f"previous state: {why}.", ExitCode.FAILED)
    return UserError(f"Deploying stack {stack_name} failed, it is now {status}: {why}.",
                     ExitCode.FAILED)


def deploy(clients: Clients, stack_name: str, *, content: str | Path = DEFAULT_CONTENT,
           overrides: dict[str, str] | None = None, out: TextIO | None = None,
           **options: Any) -> dict:
    """Deploy ``stack_name`` and its page; returns the summary dict that ``--json`` prints.
    ``options`` are ``Deployer``'s fields. Raises ``UserError`` for every expected failure."""
    return Deployer(clients, stack_name, content=Path(content), overrides=dict(overrides or {}),
                    out=out or sys.stderr, **options).run()


def stack_line(result: dict) -> str:
    """What this run did to the stack, in words that stay true after an interrupted run:
    a stack an earlier run created but never finished publishing is not "unchanged"."""
    name, action, status = result["stack_name"], result["action"], result["stack_status"]
    waited = result.get("waited_for")
    before = f"waited for the {waited} already under way, then " if waited else ""
    if action == "unchanged":
        if result["upload"].get("was_missing"):
            return (f"Stack {name}: {before}no stack change needed ({status}), but its page "
                    "was missing: an earlier deploy stopped before publishing it, and this "
                    "run finished the job.")
        return f"Stack {name}: {before}no change needed ({status})." if waited \
            else f"Stack {name}: unchanged ({status})."
    return f"Stack {name}: {before}{action} ({status})."


def summary_lines(result: dict) -> list[str]:
    if result["action"] == "change-set-created":
        cs = result["change_set"]
        return [f"Change set {cs['name']} ({cs['type']}) created for stack "
                f"{result['stack_name']} and not executed.",
                f"Review it, then run: aws cloudformation execute-change-set "
                f"--change-set-name {cs['id']}"]
    upload = result["upload"]
    inv = result["invalidation"] or {"id": None, "status": "none needed"}
    page = ("uploaded (it was missing)" if upload.get("was_missing") else "uploaded") \
        if upload["uploaded"] else "unchanged"
    return [
        stack_line(result),
        f"Endpoint URL:     {result['endpoint_url']}",
        f"Distribution:     {result['distribution_id']}",
        f"Bucket:           {result['bucket']} (page: {result['object_key']}, {page})",
        f"Invalidation:     {' '.join(filter(None, (inv['id'], inv['status'])))}"
        + (" (created by an earlier run)" if inv.get("earlier_run") else ""),
        f"Reverse proxy:    send Host: {result['proxy']['host_header']} and TLS SNI "
        f"{result['proxy']['sni']} to the endpoint.",
        f"Took {result['elapsed_seconds']:.0f} s.",
    ]


