// An SMSC built on node-smpp that reaches its ESME by outbind (SMPP 3.4 §2.2.1): it connects to Xinge's outbind
// port, sends outbind, answers Xinge's bind_receiver, then delivers one reply (MO). Prints one JSON line per event.
const smpp = require('smpp');
const [port, systemId, password, from, to, text] = process.argv.slice(2);
const log = (o) => console.log(JSON.stringify(o));
const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` }, () => {
  session.outbind({ system_id: systemId, password });
  log({ event: 'outbind' });
});
session.on('error', (e) => { log({ event: 'error', message: e.message }); process.exit(2); });
session.on('close', () => { log({ event: 'closed' }); process.exit(4); });
session.on('bind_receiver', (pdu) => {
  log({ event: 'bind_receiver', system_id: pdu.system_id });
  session.send(pdu.response({ system_id: 'NODESMSC' }));
  session.deliver_sm({ source_addr: from, source_addr_ton: 1, source_addr_npi: 1, destination_addr: to, short_message: text }, (resp) => {
    log({ event: 'deliver_sm_resp', status: resp.command_status });
    session.close();
    process.exit(0);
  });
});
session.on('enquire_link', (pdu) => session.send(pdu.response()));
setTimeout(() => { log({ event: 'timeout' }); process.exit(3); }, 30000);
