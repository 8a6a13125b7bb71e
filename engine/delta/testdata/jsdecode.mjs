// Applies deltas with the decoders the official JS client (@sockudo/client)
// uses: @ably/vcdiff-decoder decode(delta, source) and fossil-delta 2.x
// applyDelta(base, delta). Reads [{algo, base, delta, want}] (base64) on
// stdin; prints "index reason" per failed case, then "done".
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const dir = process.env.SOCKUDO_JS_DECODERS;
const require = createRequire(path.join(dir, "x.js"));
const vcdiff = require("@ably/vcdiff-decoder");
const fossil = await import(pathToFileURL(require.resolve("fossil-delta")).href);

let input = "";
for await (const chunk of process.stdin) input += chunk;
JSON.parse(input).forEach((c, i) => {
  const base = new Uint8Array(Buffer.from(c.base, "base64"));
  const delta = new Uint8Array(Buffer.from(c.delta, "base64"));
  let out;
  try {
    out = c.algo === "xdelta3" ? vcdiff.decode(delta, base) : fossil.applyDelta(base, delta);
  } catch (e) {
    console.log(i + " " + e.message);
    return;
  }
  if (Buffer.compare(Buffer.from(out), Buffer.from(c.want, "base64")) !== 0) console.log(i + " mismatch");
});
console.log("done");
