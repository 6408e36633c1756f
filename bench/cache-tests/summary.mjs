// Counts the suite's results the way cache-tests.fyi shows them: required tests (kind
// "required" or unset, browser-only ones left out) that pass, fail (conformance or setup),
// or cannot run because a test they depend on did not pass.
// Usage: node summary.mjs results.json [--list]
import fs from 'fs'
import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const suites = [...tests, surrogate]
const byId = new Map()
for (const suite of suites) for (const test of suite.tests) byId.set(test.id, test)

const PASSING = new Set(['pass', 'yes'])

function outcome (id, results) {
  const test = byId.get(id)
  const result = results[id]
  if (result === undefined) return 'untested'
  for (const dep of test.depends_on || []) {
    if (!PASSING.has(outcome(dep, results))) return 'dependency'
  }
  if (result[0] === 'Setup') return result[1] === 'retry' ? 'retry' : 'setup'
  const kind = test.kind || 'required'
  if (kind === 'required') return result === true ? 'pass' : 'fail'
  if (kind === 'optimal') return result === true ? 'pass' : 'optimal_fail'
  return result === true ? 'yes' : 'no'
}

const [file, flag] = process.argv.slice(2)
const results = JSON.parse(fs.readFileSync(file, 'utf8'))
const counts = {}
const failures = []
for (const [id, test] of byId) {
  if (test.browser_only === true) continue
  if ((test.kind || 'required') !== 'required') continue
  const kind = outcome(id, results)
  counts[kind] = (counts[kind] || 0) + 1
  if (kind !== 'pass') failures.push([id, kind, results[id] === true ? '' : (results[id] || [])[1] || ''])
}
console.log(JSON.stringify(counts))
if (flag === '--list') for (const row of failures) console.log(row.join('\t'))
