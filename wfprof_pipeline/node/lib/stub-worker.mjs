// Worker-thread entry of the stub server (see stub-server.mjs, startStubWorker).
import { parentPort, workerData } from 'node:worker_threads';

import { createStubServer } from './stub-server.mjs';

const stub = createStubServer(workerData?.routes ?? []);
const listening = stub.listen(0).then(
  (port) => ({ port }),
  (error) => ({ error: String(error) }),
);

parentPort.on('message', async ({ id, type, payload }) => {
  switch (type) {
    case 'ready':
      parentPort.postMessage({ id, ...(await listening) });
      break;
    case 'setRoutes':
      stub.setRoutes(payload ?? []);
      parentPort.postMessage({ id });
      break;
    case 'takeLog':
      parentPort.postMessage({ id, log: stub.takeLog() });
      break;
    case 'close':
      await stub.close();
      parentPort.postMessage({ id });
      break;
    default:
      parentPort.postMessage({ id, error: `unknown message ${type}` });
  }
});
