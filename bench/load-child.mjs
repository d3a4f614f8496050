// httpLoad's load generator, in a process of its own: autocannon with the options given as JSON in
// argv[2]; prints the result as JSON, also when stopped early with SIGINT (autocannon's CLI
// prints nothing then).
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2]);
const instance = autocannon(opts, (err, result) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(result));
});
process.once('SIGINT', () => instance.stop());
