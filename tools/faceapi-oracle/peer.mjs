// face-api.js end to end (SSD MobileNet v1 detector, 68 landmarks, its dlib-style crop, FaceRecognitionNet) on a folder of
// identity folders: the peer EchoFace's accuracy is compared with. Writes {relative path: L2-normalised descriptor} for the
// largest face of each image, the format `echoface eval faces --embeddings` scores.
// usage: node peer.mjs FOLDER OUT.json [--pad F]   (--pad: grey border of F x the larger side, as `eval faces --pad`)
// PEER_MIN_CONFIDENCE: the SSD detector's threshold (face-api's default 0.5)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const require = createRequire(import.meta.url);
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;

const [root, outFile, ...rest] = process.argv.slice(2);
const pad = rest[0] === '--pad' ? Number(rest[1]) : 0;
if (!root || !outFile || !(pad >= 0)) {
  console.error('usage: node peer.mjs FOLDER OUT.json [--pad F]');
  process.exit(2);
}

/** RGB bytes of a JPEG, PNG or binary PGM (the formats of ../shared/data/faces). */
function decode(file) {
  const data = fs.readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.pgm') {
    const header = data.toString('latin1', 0, 64).match(/^P5\s+(?:#.*\s+)*(\d+)\s+(\d+)\s+(\d+)\s/);
    if (!header) throw new Error(`${file}: not a binary PGM`);
    const [w, h] = [Number(header[1]), Number(header[2])];
    const grey = data.subarray(header[0].length);
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i];
    return { w, h, rgb };
  }
  // by content, not by name: some of the photos are PNGs named .jpg
  const isPng = data[0] === 0x89 && data[1] === 0x50;
  const img = isPng ? PNG.sync.read(data) : jpeg.decode(data, { useTArray: true, maxMemoryUsageInMB: 1024 });
  const rgb = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = img.data[4 * i + c];
  return { w: img.width, h: img.height, rgb };
}

function padded({ w, h, rgb }, fraction) {
  const b = Math.round(fraction * Math.max(w, h));
  if (b === 0) return { w, h, rgb };
  const [W, H] = [w + 2 * b, h + 2 * b];
  const out = new Uint8Array(W * H * 3).fill(127);
  for (let y = 0; y < h; y++) out.set(rgb.subarray(y * w * 3, (y + 1) * w * 3), ((y + b) * W + b) * 3);
  return { w: W, h: H, rgb: out };
}

await tf.setBackend('wasm');
await tf.ready();
const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
await faceapi.nets.faceRecognitionNet.loadFromDisk(models);
const options = new faceapi.SsdMobilenetv1Options({ minConfidence: Number(process.env.PEER_MIN_CONFIDENCE ?? 0.5) });

async function analyse({ w, h, rgb }) {
  const input = tf.tensor3d(rgb, [h, w, 3], 'int32');
  const faces = await faceapi.detectAllFaces(input, options).withFaceLandmarks().withFaceDescriptors();
  input.dispose();
  return faces;
}

const files = fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  .flatMap((id) => fs.readdirSync(path.join(root, id)).filter((f) => /\.(jpe?g|png|pgm)$/i.test(f)).sort().map((f) => `${id}/${f}`));
const out = {};
const started = Date.now();
let done = 0;
for (const rel of files) {
  done++;
  let image;
  try {
    image = padded(decode(path.join(root, rel)), pad);
  } catch (e) {
    console.error(`${rel}: ${e.message}`); // counted as a failure, as EchoFace counts an image it cannot read
    continue;
  }
  let faces = await analyse(image);
  // a tight crop (face-api's own 150x150 examples): padded and tried again, the help EchoFace's Face.PadOnMiss (0.5) gives itself
  if (faces.length === 0) faces = await analyse(padded(image, 0.5));
  const largest = faces.sort((a, b) => b.detection.box.area - a.detection.box.area)[0];
  if (largest) {
    const d = Array.from(largest.descriptor);
    const norm = Math.hypot(...d);
    out[rel] = d.map((v) => v / norm);
  }
  if (done % 50 === 0 || done === files.length) console.error(`${done}/${files.length} images, ${((Date.now() - started) / done).toFixed(0)} ms each`);
}
fs.writeFileSync(outFile, JSON.stringify(out));
console.error(`${Object.keys(out).length} of ${files.length} images with a face, ${((Date.now() - started) / files.length).toFixed(0)} ms per image`);
