// Prints the real o200k_base token count of each file: "<count>\t<path>" per line.
// Paths come from the arguments, or one per line on stdin when there are none.
// `--stdin-text` counts the whole of stdin instead (for pinning examples in unit tests).
// Special-token markers such as "<|endoftext|>" are counted as ordinary text, as they would be
// in a prompt.
import { readFileSync } from 'node:fs';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

const opts = { disallowedSpecial: new Set() };
const count = (text) => countTokens(text, opts);

const args = process.argv.slice(2);
if (args[0] === '--stdin-text') {
  process.stdout.write(`${count(readFileSync(0, 'utf8'))}\n`);
} else {
  const paths = args.length > 0 ? args
    : readFileSync(0, 'utf8').split('\n').filter((p) => p.length > 0);
  const out = [];
  for (const p of paths) {
    out.push(`${count(readFileSync(p, 'utf8'))}\t${p}`);
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}
