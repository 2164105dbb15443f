// A TF.js graph model's own outputs for given inputs: the reference EchoFace's ONNX conversion (TfjsGraphModel) is checked against.
// usage: node tfjs-graph.mjs [--output NODE] MODEL.json INPUT.f32...   (each file one NHWC float32 image, little-endian; NODE: the
// graph node to read, where the model has several outputs); prints JSON to stdout.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');

const args = process.argv.slice(2);
const output = args[0] === '--output' ? args[1] : undefined;
const [modelPath, ...inputs] = output === undefined ? args : args.slice(2);
if (!modelPath || inputs.length === 0) {
  console.error('usage: node tfjs-graph.mjs [--output NODE] MODEL.json INPUT.f32...');
  process.exit(2);
}
await tf.setBackend('cpu');
await tf.ready();
const json = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
const folder = path.dirname(modelPath);
const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(folder, p))));
const data = Buffer.concat(shards);
const model = await tf.loadGraphModel({
  load: async () => ({
    modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
  }),
});
const shape = model.inputs[0].shape.map((d) => (d < 0 ? 1 : d));
const out = [];
for (const file of inputs) {
  const bytes = fs.readFileSync(file);
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const x = tf.tensor(values, shape);
  const y = output === undefined ? model.execute(x) : model.execute(x, output);
  out.push({ file, backend: tf.getBackend(), output: Array.from(await y.data()) });
  tf.dispose([x, y]);
}
process.stdout.write(JSON.stringify(out));
