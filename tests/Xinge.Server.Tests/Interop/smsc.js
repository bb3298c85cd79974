// An SMSC built on node-smpp (npm "smpp"), for interop tests: Xinge's connector binds to it.
// Prints one JSON line per event; answers every submit_sm and sends a DELIVRD receipt for it.
const smpp = require('smpp');
const port = parseInt(process.argv[2], 10);
// "tricky": the receipt comes before submit_sm_resp, the resp's id is hex with leading zeros and the receipt's is
// decimal, in the text only, as some operators' SMSCs do.
const tricky = process.argv[3] === 'tricky';
// "throttle": the first three submit_sm are answered ESME_RTHROTTLED (0x58).
let throttles = process.argv[3] === 'throttle' ? 3 : 0;
let next = 0x5000;
const stamp = () => new Date().toISOString().replace(/[-:T]/g, '').slice(2, 12);
const server = smpp.createServer({}, (session) => {
  const ok = (pdu) => session.send(pdu.response());
  session.on('bind_transceiver', (pdu) => {
    console.log(JSON.stringify({ event: 'bind', system_id: pdu.system_id, password: pdu.password }));
    session.send(pdu.response({ system_id: 'NODESMSC' }));
  });
  session.on('enquire_link', ok);
  session.on('unbind', (pdu) => { console.log(JSON.stringify({ event: 'unbind' })); session.send(pdu.response()); session.close(); });
  session.on('error', () => {});
  session.on('submit_sm', (pdu) => {
    if (throttles > 0) {
      throttles--;
      console.log(JSON.stringify({ event: 'throttled', dest: pdu.destination_addr }));
      session.send(pdu.response({ command_status: 0x58 }));
      return;
    }
    const n = next++;
    const id = tricky ? n.toString(16).toUpperCase().padStart(10, '0') : n.toString(16).toUpperCase();
    const receiptId = tricky ? String(n) : id;
    const sm = pdu.short_message;
    console.log(JSON.stringify({
      event: 'submit_sm', at: Date.now(), id, dest: pdu.destination_addr, source: pdu.source_addr, data_coding: pdu.data_coding,
      esm_class: pdu.esm_class, udh: sm.udh ? sm.udh.map((b) => b.toString('hex')) : null, message: sm.message,
    }));
    const d = stamp();
    const receipt = () => session.deliver_sm(Object.assign({
      source_addr: pdu.destination_addr, destination_addr: pdu.source_addr, esm_class: 4,
      short_message: `id:${receiptId} sub:001 dlvrd:001 submit date:${d} done date:${d} stat:DELIVRD err:000 text:`,
    }, tricky ? {} : { receipted_message_id: id, message_state: 2 }));
    if (tricky) {
      receipt();
      setTimeout(() => session.send(pdu.response({ message_id: id })), 50);
    } else {
      session.send(pdu.response({ message_id: id }));
      setTimeout(receipt, 5);
    }
  });
});
server.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ event: 'listening' })));
