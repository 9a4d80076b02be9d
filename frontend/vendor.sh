#!/usr/bin/env bash
# Copies the browser builds of the npm dependencies into vendor/ (git-ignored). Run after `npm ci`
# from this directory; running it again gives the same result.
set -euo pipefail
cd "$(dirname "$0")"

copy() {  # copy SRC DEST: atomically, so a half-written file is never served
  local src="node_modules/$1" dest="vendor/$2"
  if [ ! -f "$src" ]; then
    echo "vendor.sh: $src is missing: run 'npm ci' in frontend/ first" >&2
    exit 1
  fi
  cp -f "$src" "$dest.tmp"
  mv -f "$dest.tmp" "$dest"
}

mkdir -p vendor/pdfjs
# One self-contained ES module: Preact, its hooks and htm (exports html, render, h, useState, ...).
copy htm/preact/standalone.module.js preact-htm.js
copy htm/LICENSE htm-LICENSE.txt
# The Socket.IO client as one self-contained ES module (engine.io and the parser bundled, no imports).
copy socket.io-client/dist/socket.io.esm.min.js socket.io.js
copy socket.io-client/LICENSE socket.io-LICENSE.txt

# pdf.js: the library, its worker, and the data it loads on demand (standard fonts for PDFs that do not
# embed theirs, CMaps, the image decoders). Its scripting engine (quickjs) is left out: no PDF runs code.
copy pdfjs-dist/build/pdf.min.mjs pdf.mjs
copy pdfjs-dist/build/pdf.worker.min.mjs pdf.worker.mjs
copy pdfjs-dist/LICENSE pdfjs-LICENSE.txt
# axe-core: only for the accessibility checks of the browser tests (tests/e2e/axe.py evaluates it in the page);
# the app never loads it.
mkdir -p vendor/axe
copy axe-core/axe.min.js axe/axe.min.js
copy axe-core/LICENSE axe/axe-LICENSE.txt
copy_dir() {  # copy_dir SRC DEST [exclude-glob]
  rm -rf "vendor/$2.tmp"
  cp -r "node_modules/$1" "vendor/$2.tmp"
  if [ -n "${3:-}" ]; then find "vendor/$2.tmp" -name "$3" -delete; fi
  rm -rf "vendor/$2"
  mv "vendor/$2.tmp" "vendor/$2"
}
copy_dir pdfjs-dist/standard_fonts pdfjs/standard_fonts
copy_dir pdfjs-dist/cmaps pdfjs/cmaps
copy_dir pdfjs-dist/wasm pdfjs/wasm 'quickjs*'

version() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null || echo '?'; }
echo "vendor.sh: vendor/preact-htm.js from htm $(version htm), vendor/socket.io.js from socket.io-client" \
  "$(version socket.io-client), vendor/pdf.mjs from pdfjs-dist $(version pdfjs-dist)," \
  "vendor/axe/axe.min.js from axe-core $(version axe-core)"
