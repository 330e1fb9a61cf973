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
from pathlib import Path

import pytest
from test_function import function_code, with_stand_in

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
    results = with_stand_in(function_code("FrontDoorRequestFunction") + PROBE, VECTORS)
    wrong = [(v["note"], v["value"], r) for v, r in zip(VECTORS, results, strict=True) if r != expected(v, "functions")]
    assert not wrong, wrong


def test_a_value_the_command_did_not_write_is_shown_as_foreign():
    assert edge_switch.decode('{"on":false,"n":NaN}').foreign == '{"on":false,"n":NaN}'
    assert edge_switch.decode('{"on":true,"allow":[1,"203.0.113.0/24"]}').foreign is not None
