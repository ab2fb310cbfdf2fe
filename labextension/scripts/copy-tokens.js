// The token rules live once, in the Python package (chainmagic/dsl/token_classes.json): the
// kernel's highlighter and tests read them there. The extension takes a copy at build time.
const fs = require('fs');
const path = require('path');

const source = path.join(__dirname, '..', '..', 'chainmagic', 'dsl', 'token_classes.json');
const target = path.join(__dirname, '..', 'src', 'token_classes.json');
fs.copyFileSync(source, target);
