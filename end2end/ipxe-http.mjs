// Walks the iPXE boot flow over plain HTTP, as an iPXE client with `params` would (the
// credentials POSTed hex-encoded), and reads the menu script it ends on: enough to check
// what clients are served.

const CLIENT = 'mac=52-54-00-12-34-56&platform=pcbios&arch=x86_64';

/** The text of `set pxc-tN:hex …` settings in a script, by N. */
function hexSettings(script) {
  const texts = new Map();
  for (const [, n, hex] of script.matchAll(/^set pxc-t(\d+):hex (\S*)$/gm)) {
    const bytes = hex ? hex.split(':').map((b) => parseInt(b, 16)) : [];
    texts.set(n, Buffer.from(bytes).toString('utf8'));
  }
  return texts;
}

/** A menu script's lines as a user sees them: entries as their text, gaps as `-- text`. */
export function menuLines(script) {
  const texts = hexSettings(script);
  const shown = (rest) => rest.replace(/\$\{pxc-t(\d+):string\}/g, (_, n) => texts.get(n) ?? '?');
  const lines = [];
  for (const [, rest] of script.matchAll(/^item (.*)$/gm)) {
    if (rest.startsWith('--gap -- ')) lines.push(`-- ${shown(rest.slice(9))}`);
    else if (rest === '--gap --') lines.push('--');
    else lines.push(shown(rest.replace(/^\S+ /, '')));
  }
  return lines;
}

/** Signs in at the iPXE prompt and returns the script the server answers with. */
export async function ipxeSignIn(baseUrl, username, password) {
  const login = await (await fetch(`${baseUrl}/ipxe/login?${CLIENT}`)).text();
  const target = login.match(/chain --replace --autofree (\S+)##params=/);
  if (!target) throw new Error(`no sign-in URL in:\n${login}`);
  const hex = (text) => Buffer.from(text, 'utf8').toString('hex');
  const response = await fetch(target[1], {
    method: 'POST',
    body: new URLSearchParams({ username: hex(username), password: hex(password) }),
  });
  if (!response.ok) throw new Error(`sign-in answered ${response.status}`);
  return response.text();
}
