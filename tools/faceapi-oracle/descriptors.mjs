// face-api.js's own descriptors for crops EchoFace aligned: the reference its ONNX conversion is checked against.
// usage: node descriptors.mjs SIZE CROP.rgb...   (each file SIZE*SIZE*3 bytes, RGB, row-major); prints JSON to stdout.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;

const [size, ...files] = process.argv.slice(2);
const side = Number(size);
if (!Number.isInteger(side) || side <= 0 || files.length === 0) {
  console.error('usage: node descriptors.mjs SIZE CROP.rgb...');
  process.exit(2);
}
await tf.setBackend('wasm');
await tf.ready();
const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
await faceapi.nets.faceRecognitionNet.loadFromDisk(models);

const out = [];
for (const file of files) {
  const bytes = fs.readFileSync(file);
  if (bytes.length !== side * side * 3) {
    console.error(`${file}: ${bytes.length} bytes, not ${side}x${side}x3`);
    process.exit(1);
  }
  const input = tf.tensor3d(new Int32Array(bytes), [side, side, 3], 'int32');
  const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(input);
  input.dispose();
  out.push({ file, backend: tf.getBackend(), descriptor: Array.from(descriptor) });
}
process.stdout.write(JSON.stringify(out));
