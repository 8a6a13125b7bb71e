#!/usr/bin/env bash
# Re-embeds the documents README.md carries between <!-- BEGIN path -->
# and <!-- END path --> markers (headings one level deeper), as
# configs.TestReadmeEmbedsDocs checks.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re
readme = open('README.md').read()
def embed(m):
    path = m.group(1)
    doc = open(path).read().rstrip('\n').split('\n')
    doc = ['#' + l if l.startswith('#') else l for l in doc]
    return '<!-- BEGIN %s -->\n%s\n<!-- END %s -->' % (path, '\n'.join(doc), path)
readme = re.sub(r'<!-- BEGIN (\S+) -->\n.*?<!-- END \1 -->', embed, readme, flags=re.S)
open('README.md', 'w').write(readme)
PY
