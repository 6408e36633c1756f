// The suite's cli.mjs (all tests, JSON results on stdout), with the number of tests run at
// once as an argument: cli.mjs runs 100 at a time, which the twin's listener (a small
// hand-written HTTP server, issue 11) answers with connection resets. Same tests, same
// client, same checks; only the batch size differs.
// Usage: node run.mjs BASE_URL [BATCH]
import fetch from 'node-fetch'
import { runTests, getResults } from 'http-cache-tests/client/runner.mjs'
import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const [base, batch] = process.argv.slice(2)
runTests([...tests, surrogate], fetch, false, base, Number(batch || 100))
  .then(() => console.log(JSON.stringify(getResults(), null, 2)))
  .catch(err => { console.error(err); process.exit(1) })
