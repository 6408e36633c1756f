// Byte-compile Python sources with Pyodide's CPython 3.13 (the interpreter Lambda's python3.13
// runs, on WebAssembly): reads {"mode": "compile"|"verify", "files": {path: base64}} as JSON on
// stdin, writes one JSON object on stdout. See edgekit_iac/bundle/bytecode.py.
// Usage: node pyc_compile.mjs --packages=DIR   (DIR/node_modules/pyodide, installed by npm ci)
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const packagesArg = process.argv.find((a) => a.startsWith('--packages='));
if (!packagesArg) {
  process.stderr.write('pyc_compile.mjs needs --packages=DIR\n');
  process.exit(2);
}
const modulesDir = packagesArg.slice('--packages='.length);

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = Buffer.concat(chunks).toString('utf8');

const { loadPyodide } = await import(
  pathToFileURL(path.join(modulesDir, 'node_modules', 'pyodide', 'pyodide.mjs')).href);
const pyodide = await loadPyodide({ stdout: (l) => process.stderr.write(l + '\n'),
  stderr: (l) => process.stderr.write(l + '\n') });
pyodide.globals.set('REQUEST', request);
const answer = pyodide.runPython(`
import base64, importlib.util, json, marshal, sys
from importlib._bootstrap_external import _code_to_hash_pyc, MAGIC_NUMBER

def _compile(files):
    out = {}
    for name in sorted(files):
        source = base64.b64decode(files[name])
        # The zip-relative path as the file name; the import system swaps in the real path
        # when it loads the .pyc (importlib's _fix_up_module / _imp._fix_co_filename).
        code = compile(source, name, "exec", dont_inherit=True, optimize=0)
        pyc = _code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
        out[name] = base64.b64encode(pyc).decode("ascii")
    return out

def _verify(files):
    problems = {}
    for name in sorted(files):
        data = base64.b64decode(files[name]["pyc"])
        source = base64.b64decode(files[name]["source"])
        if data[:4] != MAGIC_NUMBER:
            problems[name] = f"magic {data[:4].hex()} is not {MAGIC_NUMBER.hex()}"
        elif int.from_bytes(data[4:8], "little") not in (1, 3):
            problems[name] = "not a hash-based .pyc"
        elif data[8:16] != importlib.util.source_hash(source):
            problems[name] = "source hash does not match the shipped source"
        else:
            try:
                code = marshal.loads(data[16:])
            except Exception as exc:
                problems[name] = f"unmarshal failed: {exc!r}"
            else:
                if type(code).__name__ != "code":
                    problems[name] = f"holds a {type(code).__name__}, not a code object"
    return problems

_request = json.loads(REQUEST)
_work = _compile if _request["mode"] == "compile" else _verify
json.dumps({"version": sys.version, "hexversion": sys.hexversion,
            "magic": MAGIC_NUMBER.hex(), "result": _work(_request["files"])})
`);
process.stdout.write(answer);
