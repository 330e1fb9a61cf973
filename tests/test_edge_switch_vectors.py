"""One rule for the stored value of the edge switch, held as a table of test vectors
(tests/data/edge_switch_vectors.json: stored value -> on, the allow entries that let clients
through, the end time Retry-After counts down to), that both sides must pass:

- the Python decoder the command shows `switch status --stack-name` with (edge_switch.decode);
- the front-door functions' JavaScript as deployed, run in node with the stand-in of the
  `cloudfront` module (as test_function.py runs it): readSwitch() for on/off, and for each
  allow entry whether inside() matches the entry's own network with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from test_function import KVS_ID, ORIGIN_IDS, STAND_IN, function_code

from scripts import template as stack
from scripts.switch import edge as edge_switch

VECTORS = json.loads((Path(__file__).parent / "data" / "edge_switch_vectors.json").read_text())

# Appended to the deployed code: readSwitch(), words() and inside() are the functions' own.
PROBE = """
import { standIn } from 'cloudfront';
import { readFileSync } from 'node:fs';
const out = [];
for (const v of JSON.parse(readFileSync(process.argv[2], 'utf8'))) {
  standIn.store = new Map(v.value === null ? [] : [['@SWITCH_KEY@', v.value]]);
  const sw = await readSwitch(NaN);  // NaN: at no particular time, so the window does not apply
  if (sw === null) { out.push({ on: false, allowed: [], until: null, from: null, exempt: [], secret: null }); continue; }
  const allowed = sw.allow.filter(e => typeof e === 'string' && inside(words(e.slice(0, e.indexOf('/'))), e));
  const time = t => isNaN(t) ? null : new Date(t).toISOString().replace('.000Z', 'Z');
  out.push({ on: true, allowed: allowed, until: time(sw.until), from: time(sw.from), exempt: sw.exempt, secret: sw.secret });
}
process.stdout.write(JSON.stringify(out));
""".replace("@SWITCH_KEY@", stack.SWITCH_KEY)


def expected(vector: dict, side: str = "python") -> dict:
    """What `side` must make of the vector. A vector's "functions" entry overrides it for the
    JavaScript: a known divergence, where the functions need a change (none today)."""
    want = {"on": vector["on"], "allowed": vector["allowed"], "until": vector["until"],
            "from": vector.get("from"), "exempt": vector.get("exempt", []), "secret": vector.get("secret")}
    return {**want, **vector.get("functions", {})} if side == "functions" else want


@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"] for v in VECTORS])
def test_the_python_decoder_reads_the_value_as_the_functions_do(vector):
    got = edge_switch.decode(vector["value"])
    assert {"on": got.on, "allowed": list(got.allow), "until": got.until, "from": got.start,
            "exempt": list(got.exempt), "secret": got.secret} == expected(vector)


def test_the_functions_read_the_value_by_the_same_vectors():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to execute the CloudFront Function code")
    with tempfile.TemporaryDirectory() as work:
        module = Path(work, "node_modules", "cloudfront")
        module.mkdir(parents=True)
        (module / "package.json").write_text('{"name": "cloudfront", "type": "module", "main": "index.mjs"}')
        shutil.copy(STAND_IN, module / "index.mjs")
        Path(work, "fn.mjs").write_text(function_code("FrontDoorRequestFunction") + PROBE)
        Path(work, "vectors.json").write_text(json.dumps(VECTORS))
        env = {"PATH": os.environ.get("PATH", ""), "STAND_IN_KVS_ID": KVS_ID,
               "STAND_IN_ORIGINS": ",".join(ORIGIN_IDS)}
        out = subprocess.run([node, "fn.mjs", "vectors.json"], cwd=work, env=env, capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    wrong = [(v["note"], v["value"], r) for v, r in zip(VECTORS, results, strict=True) if r != expected(v, "functions")]
    assert not wrong, wrong


def test_a_value_the_command_did_not_write_is_shown_as_foreign():
    assert edge_switch.decode('{"on":false,"n":NaN}').foreign == '{"on":false,"n":NaN}'
    assert edge_switch.decode('{"on":true,"allow":[1,"203.0.113.0/24"]}').foreign is not None
