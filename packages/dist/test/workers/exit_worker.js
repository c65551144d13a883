// Launcher test child: prints its pid; rank 1 exits with code 3 after a moment; rank 2 ignores SIGTERM.
'use strict';
process.stdout.write(`PID ${process.pid}\n`);
if (process.env.RANK === '2') process.on('SIGTERM', () => undefined);
if (process.env.RANK === '1') setTimeout(() => process.exit(3), 1500);
setInterval(() => undefined, 1000);
