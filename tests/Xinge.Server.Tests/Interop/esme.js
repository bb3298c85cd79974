// An ESME built on node-smpp (npm "smpp"), for interop tests: it binds to Xinge's SMPP server, submits one
// message with registered_delivery and waits for its receipt. Prints one JSON line per event.
const smpp = require('smpp');
const [port, systemId, password, dest, text] = process.argv.slice(2);
const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` });
const log = (o) => console.log(JSON.stringify(o));
session.on('error', (e) => { log({ event: 'error', message: e.message }); process.exit(2); });
session.bind_transceiver({ system_id: systemId, password }, (pdu) => {
  log({ event: 'bind_resp', status: pdu.command_status });
  if (pdu.command_status !== 0) process.exit(1);
  session.submit_sm({ destination_addr: dest, dest_addr_ton: 1, dest_addr_npi: 1, short_message: text, registered_delivery: 1 },
    (r) => log({ event: 'submit_sm_resp', status: r.command_status, id: r.message_id }));
});
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  log({ event: 'deliver_sm', esm_class: pdu.esm_class, message: pdu.short_message.message, receipted: pdu.receipted_message_id, state: pdu.message_state });
  if (pdu.esm_class & 4) session.unbind(() => { session.close(); process.exit(0); });
});
setTimeout(() => { log({ event: 'timeout' }); process.exit(3); }, 30000);
