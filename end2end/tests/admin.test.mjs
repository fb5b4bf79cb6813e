// The admin web app in a real browser: an organization, a user, two images with boot
// arguments, a menu built by dragging with the mouse and reordered by drag and by keyboard,
// the live iPXE preview, saving, what iPXE clients are then served, a concurrent save in two
// browsers, field errors, and a member who cannot reach admin pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { artifacts, burstKeys, eventually, hydrated, launchBrowser, openPage, startServer } from '../support.mjs';
import { ipxeSignIn, menuLines } from '../ipxe-http.mjs';

const backend = process.env.PXECLOUD_E2E_ADMIN_URL ? 'postgres' : 'sqlite';
const MEMBER_PASSWORD = 'alice & her % password';
const ADMIN_PASSWORD = 'the admin % own & password';
const DAVE_PASSWORD = 'dave keeps # this one';
// Tall enough for the editor's palette and entries to be on screen together while dragging.
const VIEWPORT = { viewport: { width: 1280, height: 1600 } };

async function signIn(page, baseUrl, username, password) {
  await page.goto(baseUrl + '/login');
  await hydrated(page);
  await page.fill('#field-username', username);
  await page.fill('#field-password', password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(baseUrl + '/');
  await hydrated(page);
}

/** Drags `from` onto `to` with real mouse events; `where` picks the top or bottom edge of `to`. */
async function drag(page, from, to, where = 'middle') {
  await from.scrollIntoViewIfNeeded();
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  const start = { x: a.x + Math.min(24, a.width / 2), y: a.y + a.height / 2 };
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(start.x + 8, start.y + 8, { steps: 4 });
  const y = where === 'top' ? b.y + 3 : where === 'bottom' ? b.y + b.height - 3 : b.y + b.height / 2;
  await page.mouse.move(b.x + b.width / 2, y, { steps: 12 });
  await page.mouse.up();
}

const ALT_DOWN = { key: 'ArrowDown', code: 'ArrowDown', keyCode: 40, modifiers: 1 };
const ALT_UP = { key: 'ArrowUp', code: 'ArrowUp', keyCode: 38, modifiers: 1 };

async function entryLabels(page) {
  return page.locator('[data-testid="menu-entry"] [data-testid="entry-label"]').allTextContents();
}

async function previewItems(page) {
  return menuLines(await page.locator('[data-testid="ipxe-preview"]').textContent());
}

describe(`the admin web app (${backend})`, () => {
  let server;
  let browser;
  let page;
  let problems;
  let orgUrl;
  let menuUrl;

  before(async () => {
    // TFTP on a loopback port the system picks, for the Network boot page (ProxyDHCP would
    // answer on this machine's network: it runs only in end2end/pxe's namespaces).
    // Files may be fetched from loopback (the test's own origin), which is refused by default.
    server = await startServer(['--tftp', '--tftp-listen', '127.0.0.1:0', '--fetch-allow', '127.0.0.1/32']);
    browser = await launchBrowser();
    ({ page, problems } = await openPage(browser, VIEWPORT));
    // The first sign-in asks for a new password before anything else.
    await page.goto(server.baseUrl + '/login');
    await hydrated(page);
    await page.fill('#field-username', 'admin');
    await page.fill('#field-password', server.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(server.baseUrl + '/account/password');
    await hydrated(page);
    await page.fill('#field-current', server.adminPassword);
    await page.fill('#field-new', ADMIN_PASSWORD);
    await page.fill('#field-confirm', ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(server.baseUrl + '/');
    await hydrated(page);
    server.adminPassword = ADMIN_PASSWORD;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the server admin creates an organization, after a field error', async () => {
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.waitForURL(server.baseUrl + '/organizations');
    await hydrated(page);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByText('Enter a name for the organization.').waitFor();
    await page.fill('#new-organization-name', 'Physics Lab');
    await page.fill('#new-organization-description', 'Machines of the physics lab');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(/\/org\/\d+$/);
    orgUrl = page.url();
    await page.getByTestId('organization-name').filter({ hasText: 'Physics Lab' }).waitFor();
    await page.screenshot({ path: join(artifacts, `organization-${backend}.png`), fullPage: true });
  });

  test('a new user is created into the organization; a bad username is refused as typed', async () => {
    await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Members' }).click();
    await page.waitForURL(orgUrl + '/members');
    await hydrated(page);
    await page.fill('#new-username', 'al ice');
    await page.getByText("A username may contain only letters, digits, '.', '_' and '-'.").waitFor();
    await page.fill('#new-username', 'alice');
    await page.fill('#new-email', 'alice@example.org');
    await page.fill('#new-password', 'short');
    await page.getByText('A password has at least 8 characters.').waitFor();
    await page.fill('#new-password', MEMBER_PASSWORD);
    await page.getByRole('button', { name: 'Create and add' }).click();
    await page.getByTestId('member-row').filter({ hasText: 'alice' }).waitFor();
    await page.screenshot({ path: join(artifacts, `members-${backend}.png`), fullPage: true });
  });

  test('two images are added, with boot arguments edited as rows', async () => {
    await page.goto(orgUrl + '/images');
    await hydrated(page);
    await page.getByRole('link', { name: 'New image' }).click();
    await page.waitForURL(orgUrl + '/images/new');
    await hydrated(page);
    await page.fill('#image-title', 'Debian installer');
    await page.fill('#image-kernel', 'ftp://boot.lan/linux');
    await page.getByText('A URL starts with http:// or https://.').waitFor();
    await page.fill('#image-kernel', 'http://boot.lan/debian/linux');
    await page.fill('#image-source', 'http://boot.lan/debian/initrd.gz');
    for (const arg of ['quiet', 'console=ttyS0', 'two words']) {
      await page.getByRole('button', { name: 'Add argument' }).click();
      const rows = page.getByRole('textbox', { name: /^Boot argument \d+$/ });
      await rows.last().fill(arg);
    }
    await page.getByText('An argument is one word: add each argument as its own row.').waitFor();
    await page.getByRole('button', { name: 'Remove argument 3' }).click();
    await page.getByRole('button', { name: 'Move argument 2 up' }).click();
    const args = () => page.getByRole('textbox', { name: /^Boot argument \d+$/ }).evaluateAll((inputs) => inputs.map((i) => i.value));
    await eventually(args, ['console=ttyS0', 'quiet']);
    await page.screenshot({ path: join(artifacts, `image-form-${backend}.png`), fullPage: true });
    await page.getByRole('button', { name: 'Save image' }).click();
    await page.waitForURL(orgUrl + '/images');
    await page.getByTestId('image-row').filter({ hasText: 'Debian installer' }).waitFor();

    await page.getByRole('link', { name: 'New image' }).click();
    await page.waitForURL(orgUrl + '/images/new');
    await hydrated(page);
    await page.fill('#image-title', 'Rescue ISO');
    await page.getByRole('radio', { name: 'ISO' }).check();
    await page.fill('#image-source', 'http://boot.lan/rescue.iso');
    await page.getByRole('button', { name: 'Add argument' }).click();
    await page.getByRole('textbox', { name: 'Boot argument 1' }).fill('nomodeset');
    await page.getByRole('button', { name: 'Save image' }).click();
    await page.waitForURL(orgUrl + '/images');
    await page.getByTestId('image-row').filter({ hasText: 'Rescue ISO' }).waitFor();
    assert.equal(await page.getByTestId('image-row').count(), 2);
    await page.screenshot({ path: join(artifacts, `images-${backend}.png`), fullPage: true });
  });

  test('a menu is built by dragging three entries from the palette', async () => {
    await page.goto(orgUrl + '/menus');
    await hydrated(page);
    await page.fill('#new-menu-title', 'Main');
    await page.getByRole('button', { name: 'Create menu' }).click();
    await page.waitForURL(/\/menus\/\d+$/);
    menuUrl = page.url();
    await hydrated(page);
    const list = page.getByTestId('menu-entries');
    await eventually(() => previewItems(page), ['--', 'Sign out']);

    await drag(page, page.locator('[data-palette-item="Debian installer"]'), list);
    await page.getByTestId('menu-entry').first().waitFor();
    await drag(page, page.locator('[data-palette-item="Rescue ISO"]'), page.getByTestId('menu-entry').last(), 'bottom');
    await drag(page, page.locator('[data-palette-item="Reboot"]'), page.getByTestId('menu-entry').last(), 'bottom');

    await eventually(() => entryLabels(page), ['Debian installer', 'Rescue ISO', 'Reboot']);
    await eventually(() => previewItems(page), ['Debian installer', 'Rescue ISO', 'Reboot', '--', 'Sign out']);
    await page.getByTestId('save-state').filter({ hasText: 'Unsaved changes' }).waitFor();
  });

  test('entries are reordered by drag and by keyboard, and the preview follows', async () => {
    const entries = page.getByTestId('menu-entry');
    await drag(page, entries.nth(2).getByTestId('drag-handle'), entries.nth(0), 'top');
    await eventually(() => entryLabels(page), ['Reboot', 'Debian installer', 'Rescue ISO']);
    await eventually(() => previewItems(page), ['Reboot', 'Debian installer', 'Rescue ISO', '--', 'Sign out']);

    // Keys that come quickly are all kept: each burst is handed to the browser at once,
    // without waiting for the page to handle the key before.
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? null);
    await page.getByRole('listitem', { name: /^Entry 1 of 3: Reboot$/ }).focus();
    await burstKeys(page, [ALT_DOWN, ALT_DOWN]);
    await eventually(() => entryLabels(page), ['Debian installer', 'Rescue ISO', 'Reboot']);
    // Focus stays on the moved entry, so a keyboard user can keep moving it.
    await eventually(focused, 'Entry 3 of 3: Reboot');
    await burstKeys(page, [ALT_UP, ALT_UP, ALT_DOWN]);
    await eventually(() => entryLabels(page), ['Debian installer', 'Reboot', 'Rescue ISO']);
    await eventually(focused, 'Entry 2 of 3: Reboot');
    // Playwright's own key presses, back to back.
    await page.keyboard.press('Alt+ArrowUp');
    await page.keyboard.press('Alt+ArrowDown');
    await page.keyboard.press('Alt+ArrowDown');
    await eventually(() => entryLabels(page), ['Debian installer', 'Rescue ISO', 'Reboot']);
    await eventually(focused, 'Entry 3 of 3: Reboot');
    await page.getByRole('button', { name: 'Move Rescue ISO up' }).click();
    await eventually(() => entryLabels(page), ['Rescue ISO', 'Debian installer', 'Reboot']);
    await eventually(() => previewItems(page), ['Rescue ISO', 'Debian installer', 'Reboot', '--', 'Sign out']);

    // Dragging an entry out of the menu removes it; the palette's Add button puts one back.
    await drag(page, entries.nth(2).getByTestId('drag-handle'), page.locator('[data-palette-item="Separator"]'));
    await eventually(() => entryLabels(page), ['Rescue ISO', 'Debian installer']);
    await page.getByRole('button', { name: 'Add Reboot to the menu' }).click();
    await eventually(() => entryLabels(page), ['Rescue ISO', 'Debian installer', 'Reboot']);
    await page.getByRole('button', { name: 'Make Debian installer the default' }).click();
    await page.fill('#menu-timeout', '0');
    await page.getByText('A timeout is between 1 and 3600 seconds.').waitFor();
    await page.fill('#menu-timeout', '10');
    const chooses = async () => /choose --default pxc_e2 --timeout 10000/.test(await page.getByTestId('ipxe-preview').textContent());
    await eventually(chooses, true);
    await page.screenshot({ path: join(artifacts, `menu-editor-${backend}.png`), fullPage: true });
  });

  test('leaving with unsaved changes asks first', async () => {
    let asked = null;
    page.once('dialog', async (dialog) => {
      asked = dialog.message();
      await dialog.dismiss();
    });
    await page.getByRole('link', { name: '← All menus' }).click();
    assert.match(asked ?? '', /unsaved changes/);
    assert.equal(page.url(), menuUrl);
  });

  test('the menu is saved, survives a reload, and is what iPXE clients are served', async () => {
    await page.getByRole('button', { name: 'Save menu' }).click();
    await page.getByTestId('save-state').filter({ hasText: 'All changes saved' }).waitFor();
    await page.reload();
    await hydrated(page);
    await eventually(() => entryLabels(page), ['Rescue ISO', 'Debian installer', 'Reboot']);
    const preview = await previewItems(page);

    await page.goto(orgUrl + '/groups');
    await hydrated(page);
    await page.fill('#new-group-name', 'Students');
    await page.locator('#new-group-menu').selectOption({ label: 'Main' });
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.waitForURL(/\/groups\/\d+$/);
    await hydrated(page);
    await page.fill('#group-add-member', 'alice');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'Save members' }).click();
    await page.getByText('The members were saved.').waitFor();
    await page.screenshot({ path: join(artifacts, `group-${backend}.png`), fullPage: true });

    const served = await ipxeSignIn(server.baseUrl, 'alice', MEMBER_PASSWORD);
    assert.deepEqual(menuLines(served), preview);
    assert.deepEqual(menuLines(served), ['Rescue ISO', 'Debian installer', 'Reboot', '--', 'Sign out']);
    assert.match(served, /choose --default pxc_e2 --timeout 10000/);
  });

  test('the boot log shows the boot a client chose', async () => {
    const served = await ipxeSignIn(server.baseUrl, 'alice', MEMBER_PASSWORD);
    // The second entry, Debian installer: its URL names the entry and the menu version.
    const entry = served.match(/^:pxc_e2\nchain --replace --autofree (\S+\/boot\/\d+\/\d+\/\d+) /m);
    assert.ok(entry, served);
    assert.equal((await fetch(entry[1])).status, 200);
    await page.goto(orgUrl + '/boot-log');
    await hydrated(page);
    await page.getByTestId('boot-log-row').filter({ hasText: 'Debian installer' }).filter({ hasText: 'alice' }).waitFor();
    await page.screenshot({ path: join(artifacts, `boot-log-${backend}.png`), fullPage: true });
  });

  test('a save over someone else\'s save is refused, and the editor offers to reload', async () => {
    const other = await openPage(browser, VIEWPORT);
    try {
      await signIn(other.page, server.baseUrl, 'admin', server.adminPassword);
      await other.page.goto(menuUrl);
      await hydrated(other.page);
      await page.goto(menuUrl);
      await hydrated(page);

      await other.page.getByRole('button', { name: 'Remove Reboot' }).click();
      await other.page.getByRole('button', { name: 'Save menu' }).click();
      await other.page.getByTestId('save-state').filter({ hasText: 'All changes saved' }).waitFor();

      await page.getByRole('button', { name: 'Move Reboot up' }).click();
      await page.getByRole('button', { name: 'Save menu' }).click();
      await page.getByTestId('conflict').waitFor();
      await page.screenshot({ path: join(artifacts, `menu-conflict-${backend}.png`), fullPage: true });
      await page.getByRole('button', { name: 'Reload the menu' }).click();
      await page.getByTestId('save-state').filter({ hasText: 'All changes saved' }).waitFor();
      await eventually(() => entryLabels(page), ['Rescue ISO', 'Debian installer']);
    } finally {
      await other.context.close();
    }
  });

  test('deleting an image says which menus lose it', async () => {
    await page.goto(orgUrl + '/images');
    await hydrated(page);
    await page.getByRole('button', { name: 'Delete Rescue ISO' }).click();
    await page.getByRole('alertdialog').getByTestId('affected').getByText('Main').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('image-row').count(), 2);
  });

  test('a member sees no admin pages, and the server refuses them anyway', async () => {
    const member = await openPage(browser);
    try {
      await signIn(member.page, server.baseUrl, 'alice', MEMBER_PASSWORD);
      const nav = member.page.getByRole('navigation', { name: 'Main' });
      assert.equal(await nav.getByRole('link', { name: 'Organizations' }).count(), 0);
      assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 0);
      assert.equal(await nav.getByRole('link', { name: 'Network boot' }).count(), 0);
      await member.page.getByTestId('organization-row').filter({ hasText: 'Physics Lab' }).waitFor();
      assert.equal(await member.page.getByRole('link', { name: 'Physics Lab' }).count(), 0);
      for (const path of [new URL(orgUrl).pathname + '/images', new URL(menuUrl).pathname, '/users', '/network-boot']) {
        await member.page.goto(server.baseUrl + path);
        await member.page.getByText('You are not allowed to do that.').first().waitFor();
      }
      await member.page.screenshot({ path: join(artifacts, `member-refused-${backend}.png`), fullPage: true });
    } finally {
      await member.context.close();
    }
  });

  test('the users page lists accounts and finds one by filter', async () => {
    await page.goto(server.baseUrl + '/users');
    await hydrated(page);
    await page.getByTestId('user-row').filter({ hasText: 'alice' }).waitFor();
    await page.getByRole('searchbox', { name: 'Filter users' }).fill('adm');
    await page.getByTestId('user-row').filter({ hasText: 'alice' }).waitFor({ state: 'detached' });
    await eventually(() => page.getByTestId('user-row').count(), 1);
    await page.screenshot({ path: join(artifacts, `users-${backend}.png`), fullPage: true });
  });

  test('the network boot page shows the doors, the loaders and DHCP lines for the address typed', async () => {
    await page.goto(server.baseUrl + '/');
    await hydrated(page);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Network boot' }).click();
    await page.waitForURL(server.baseUrl + '/network-boot');
    const tftp = page.getByTestId('listener').filter({ hasText: 'TFTP' });
    await tftp.getByText('127.0.0.1:').waitFor();
    assert.equal(await tftp.getByText('on', { exact: true }).count(), 1);
    await page.getByTestId('listener').filter({ hasText: 'ProxyDHCP' }).getByText('off', { exact: true }).waitFor();
    // The loaders built in, each with its size and SHA-256.
    const loader = page.getByTestId('loader').filter({ hasText: 'undionly.kpxe' });
    await loader.getByText('BIOS').waitFor();
    assert.match(await loader.textContent(), /[0-9a-f]{64}/);
    // TFTP is not on port 69 here: the page says PXE firmware cannot load a loader.
    await page.getByText('TFTP does not answer on port 69 here', { exact: false }).waitFor();

    await page.getByLabel("This server's address, as machines reach it").fill('10.20.30.40');
    await page.getByRole('button', { name: 'Write for this address' }).click();
    await page.waitForURL(/address=10\.20\.30\.40/);
    const dnsmasq = page.getByRole('textbox', { name: 'dnsmasq configuration' });
    await eventually(async () => (await dnsmasq.inputValue()).includes('dhcp-boot=tag:pxecloud-ipxe,http://10.20.30.40:'), true);
    // The others are folded until opened.
    const kea = page.getByTestId('snippet-kea');
    assert.equal(await kea.getByRole('textbox').isVisible(), false);
    await kea.locator('summary').click();
    assert.match(await kea.getByRole('textbox').inputValue(), /"next-server": "10\.20\.30\.40"/);
    await page.screenshot({ path: join(artifacts, `network-boot-${backend}.png`), fullPage: true });

    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.getByTestId('snippet-dnsmasq').getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, await dnsmasq.inputValue());

    // An address that is not IPv4 is refused with a message, not written into the lines.
    await page.getByLabel("This server's address, as machines reach it").fill('boot.lan');
    await page.getByRole('button', { name: 'Write for this address' }).click();
    await page.getByText('Give an IPv4 address', { exact: false }).waitFor();
    // The form stays, to fix it.
    await page.getByLabel("This server's address, as machines reach it").fill('10.20.30.41');
    await page.getByRole('button', { name: 'Write for this address' }).click();
    await eventually(async () => (await page.getByRole('textbox', { name: 'dnsmasq configuration' }).inputValue()).includes('10.20.30.41'), true);
  });

  test('a loader set is uploaded, offered to x86-64 UEFI, served, and deleted', async () => {
    await page.goto(server.baseUrl + '/network-boot');
    await hydrated(page);
    const shim = Buffer.from('MZ a stand-in for a signed shim');
    const form = page.locator('form', { hasText: 'Add a loader set' });
    // A name that cannot be a folder is refused by the server with a message.
    await form.getByLabel('Name').fill('secure-boot');
    await form.getByLabel('Files').setInputFiles([
      { name: 'ipxe-shim.efi', mimeType: 'application/efi', buffer: shim },
      { name: 'bad name.efi', mimeType: 'application/efi', buffer: shim },
    ]);
    await form.getByRole('button', { name: 'Add the set' }).click();
    await form.getByText('may hold letters, digits', { exact: false }).waitFor();
    await form.getByLabel('Files').setInputFiles([
      { name: 'ipxe-shim.efi', mimeType: 'application/efi', buffer: shim },
      { name: 'ipxe.efi', mimeType: 'application/efi', buffer: Buffer.from('MZ signed ipxe') },
    ]);
    await form.getByRole('button', { name: 'Add the set' }).click();
    await page.getByText('The loader set was added.').waitFor();
    const set = page.getByTestId('loader-set').filter({ hasText: 'secure-boot' });
    await set.getByText('by admin', { exact: false }).waitFor();
    const sha = createHash('sha256').update(shim).digest('hex');
    await set.getByTestId('loader').filter({ hasText: 'ipxe-shim.efi' }).getByText(sha).waitFor();

    await page.getByLabel('x86-64 UEFI').selectOption('secure-boot/ipxe-shim.efi');
    await page.getByText('The loader was changed', { exact: false }).waitFor();
    await set.getByTestId('loader').filter({ hasText: 'ipxe-shim.efi' }).getByText('x86-64 UEFI').waitFor();
    const served = await eventually(async () => {
      const response = await fetch(server.baseUrl + '/loaders/secure-boot/ipxe-shim.efi');
      return response.ok ? Buffer.from(await response.arrayBuffer()).equals(shim) : response.status;
    }, true);
    assert.equal(served, true);
    await page.screenshot({ path: join(artifacts, `loader-sets-${backend}.png`), fullPage: true });

    await set.getByRole('button', { name: 'Delete the loader set secure-boot' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete loader set' }).click();
    await page.getByText('The loader set was deleted.').waitFor();
    await page.getByTestId('loader-set').waitFor({ state: 'detached' });
    assert.equal(await page.getByLabel('x86-64 UEFI').inputValue(), '');
    await eventually(async () => (await fetch(server.baseUrl + '/loaders/secure-boot/ipxe-shim.efi')).status, 404);
  });

  test('a file is fetched from a URL in the background, checked against SHA256SUMS, its progress kept across a reload', async () => {
    // An origin on loopback that sends 24 MiB slowly (2.5 MiB/s), with a checksum list.
    const size = 24 << 20;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) bytes.writeUInt32LE(i, i);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const origin = createServer((request, response) => {
      if (request.url === '/SHA256SUMS') return response.end(`${'0'.repeat(64)}  other.iso\n${sha}  live-fetched.iso\n`);
      if (request.url !== '/pub/live-fetched.iso') {
        response.statusCode = 404;
        return response.end();
      }
      response.setHeader('content-length', size);
      response.setHeader('etag', `"${sha.slice(0, 16)}"`);
      if (request.method === 'HEAD') return response.end();
      let at = 0;
      const timer = setInterval(() => {
        if (at >= size) {
          clearInterval(timer);
          return response.end();
        }
        response.write(bytes.subarray(at, at + (128 << 10)));
        at += 128 << 10;
      }, 50);
      request.on('close', () => clearInterval(timer));
    });
    await new Promise((done) => origin.listen(0, '127.0.0.1', done));
    const base = `http://127.0.0.1:${origin.address().port}`;
    try {
      await page.goto(orgUrl + '/files');
      await hydrated(page);
      const form = page.locator('section', { hasText: 'Fetch from a URL' });
      await form.getByTestId('fetch-url').fill(base + '/pub/live-fetched.iso');
      // The name follows the URL.
      assert.equal(await form.getByTestId('fetch-name').inputValue(), 'live-fetched.iso');
      await form.getByTestId('fetch-check').fill(base + '/SHA256SUMS');
      await form.getByTestId('fetch-start').click();
      await page.getByText('Fetching live-fetched.iso').waitFor();
      const fetchRow = () => page.getByTestId('fetch').filter({ hasText: 'live-fetched.iso' });
      const fileRow = page.getByTestId('file-row').filter({ hasText: 'live-fetched.iso' });
      const seen = new Set();
      let reloaded = false;
      const deadline = Date.now() + 60_000;
      while (!(await fileRow.isVisible())) {
        assert.ok(Date.now() < deadline, `the fetch did not finish; progress seen: ${[...seen]}`);
        const now = await fetchRow().getByRole('progressbar').getAttribute('aria-valuenow', { timeout: 500 }).catch(() => null);
        if (now !== null) seen.add(now);
        // Partway, a reload: the page still shows the fetch and its progress.
        if (!reloaded && now !== null && now !== '0' && now !== '100') {
          reloaded = true;
          await page.screenshot({ path: join(artifacts, `files-fetch-${backend}.png`), fullPage: true });
          await page.reload();
          await hydrated(page);
          const after = Number(await fetchRow().getByRole('progressbar').getAttribute('aria-valuenow'));
          assert.ok(after >= Number(now), `after a reload the fetch stands at ${after} %, before at ${now} %`);
        }
        await page.waitForTimeout(100);
      }
      assert.ok(reloaded, `the fetch was never seen partway; progress seen: ${[...seen]}`);
      assert.ok([...seen].filter((v) => v !== '0' && v !== '100').length >= 2, `progress seen: ${[...seen]}`);
      assert.equal(await fileRow.getByTestId('file-sha256').getAttribute('data-sha256'), sha);
      await fetchRow().waitFor({ state: 'detached' });

      // A host the server may not fetch from is refused at once, with why.
      await form.getByTestId('fetch-url').fill('http://169.254.169.254/latest/meta-data');
      await form.getByTestId('fetch-name').fill('metadata');
      await form.getByTestId('fetch-check').fill('');
      await form.getByTestId('fetch-start').click();
      await form.getByText('169.254.169.254 is outside the networks this server may fetch from').waitFor();
    } finally {
      origin.close();
    }
  });

  test('a 200 MB file is uploaded with a moving progress bar, its checksum checked, in little server memory', async () => {
    // Made on disk and handed to the browser by path: neither side holds it in memory.
    const dir = mkdtempSync(join(tmpdir(), 'pxecloud-upload-'));
    const path = join(dir, 'big disk.iso');
    const hash = createHash('sha256');
    const block = Buffer.alloc(1 << 20);
    const fd = openSync(path, 'w');
    for (let i = 0; i < 200; i++) {
      block.fill(i % 251);
      block.writeUInt32LE(i, 0);
      writeSync(fd, block);
      hash.update(block);
    }
    closeSync(fd);
    const sha = hash.digest('hex');
    try {
      await page.goto(orgUrl + '/files');
      await hydrated(page);
      const form = page.locator('section', { hasText: 'Upload a file' });
      await form.getByTestId('upload-file').setInputFiles(path);
      // The name is made fit for a URL from the file's.
      assert.equal(await form.getByTestId('upload-name').inputValue(), 'big-disk.iso');
      await form.getByTestId('upload-sha256').fill(sha);
      // The server's memory while it receives: all of it (VmRSS), and what it allocated
      // (RssAnon; VmRSS also counts the pages of its own executable it has read, which a
      // debug build has many of).
      let peakRss = 0;
      let peakAnon = 0;
      const kib = (status, field) => 1024 * Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      const before = readFileSync(`/proc/${server.pid}/status`, 'utf8');
      console.log(`server memory before the upload: VmRSS ${kib(before, 'VmRSS') >> 20} MiB, RssAnon ${kib(before, 'RssAnon') >> 20} MiB`);
      const sampler = setInterval(() => {
        const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
        peakRss = Math.max(peakRss, kib(status, 'VmRSS'));
        peakAnon = Math.max(peakAnon, kib(status, 'RssAnon'));
      }, 50);
      const seen = new Set();
      try {
        await form.getByTestId('upload-start').click();
        const bar = form.getByRole('progressbar');
        const deadline = Date.now() + 120_000;
        while (!(await page.getByText('big-disk.iso was uploaded.').isVisible())) {
          assert.ok(Date.now() < deadline, `the upload did not finish; progress seen: ${[...seen]}`);
          const now = await bar.getAttribute('aria-valuenow', { timeout: 1000 }).catch(() => null);
          if (now !== null) seen.add(now);
          await page.waitForTimeout(100);
        }
      } finally {
        clearInterval(sampler);
      }
      // The bar moved: several values on its way (not only 0 and 100).
      assert.ok([...seen].filter((v) => v !== '0' && v !== '100').length >= 2, `progress seen: ${[...seen]}`);
      const row = page.getByTestId('file-row').filter({ hasText: 'big-disk.iso' });
      assert.equal(await row.getByTestId('file-sha256').getAttribute('data-sha256'), sha);
      console.log(`server memory during the upload: VmRSS ${peakRss >> 20} MiB, RssAnon ${peakAnon >> 20} MiB`);
      // The upload is streamed to disk: it adds next to nothing to what the server holds.
      const grown = peakAnon - kib(before, 'RssAnon');
      assert.ok(grown < 32 * 1024 * 1024, `the server's allocations grew by ${grown} bytes during the upload`);
      // And what it holds stays under 100 MB, after the suite's sign-ins too (argon2's
      // working memory is kept one per hashing slot). A debug build maps far more of its
      // own executable, so there only its allocations are held to it.
      const MB = 1000 * 1000;
      assert.ok(peakAnon < 100 * MB, `the server's allocations reached ${peakAnon} bytes`);
      if (!process.env.PXECLOUD_E2E_BINARY) {
        assert.ok(peakRss < 100 * MB, `the server's RSS reached ${peakRss} bytes`);
      }
      await page.screenshot({ path: join(artifacts, `files-${backend}.png`), fullPage: true });
      // What was stored is what was picked.
      const href = await row.getByRole('link', { name: 'big-disk.iso' }).getAttribute('href');
      const response = await page.request.get(server.baseUrl + href);
      assert.equal(response.status(), 200);
      assert.equal(response.headers()['etag'], `"${sha}"`);
      // A wrong expected checksum is refused, and says both.
      await form.getByTestId('upload-file').setInputFiles({ name: 'small.img', mimeType: 'application/octet-stream', buffer: Buffer.from('small') });
      await form.getByTestId('upload-sha256').fill('ab'.repeat(32));
      await form.getByTestId('upload-start').click();
      await form.getByText('not the ' + 'ab'.repeat(32), { exact: false }).waitFor();

      // An ISO is looked inside: a Debian live image (made by xorriso) is recognised.
      const tree = join(dir, 'live-tree');
      for (const [path, bytes] of [
        ['live/vmlinuz-6.1.0-18-amd64', Buffer.alloc(70_000, 1)],
        ['live/initrd.img-6.1.0-18-amd64', Buffer.alloc(30_000, 2)],
        ['live/filesystem.squashfs', Buffer.alloc(10_000, 3)],
        ['.disk/info', Buffer.from('Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 LIVE')],
      ]) {
        mkdirSync(join(tree, dirname(path)), { recursive: true });
        writeFileSync(join(tree, path), bytes);
      }
      const live = join(dir, 'debian-live.iso');
      execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'd-live 12.5.0 gn amd64', '-o', live, tree]);
      await form.getByTestId('upload-file').setInputFiles(live);
      await form.getByTestId('upload-sha256').fill('');
      await form.getByTestId('upload-start').click();
      await page.getByText('debian-live.iso was uploaded.').waitFor();
      const liveRow = page.getByTestId('file-row').filter({ hasText: 'debian-live.iso' });
      const note = await liveRow.getByTestId('file-iso').textContent();
      assert.match(note, /^Recognised: Debian GNU\/Linux 12\.5\.0 "Bookworm" - Official amd64 LIVE\.$/, note);
      await page.screenshot({ path: join(artifacts, `files-iso-${backend}.png`), fullPage: true });

      // "Create image": the kernel and initrd copied out of it, and an image that boots them
      // with the ISO's files fetched from this server.
      await liveRow.getByTestId('file-make-image').click();
      await page.waitForURL(new RegExp(`${orgUrl}/images/\\d+$`));
      await hydrated(page);
      assert.equal(await page.inputValue('#image-kernel'), 'file:debian-live-kernel');
      assert.equal(await page.inputValue('#image-source'), 'file:debian-live-initrd');
      assert.equal(await page.inputValue('#image-iso'), 'debian-live.iso');
      const args = await page.getByTestId('boot-args').locator('input').evaluateAll((inputs) => inputs.map((i) => i.value));
      assert.deepEqual(args, ['boot=live', 'components', 'fetch={tree}/live/filesystem.squashfs']);
      await page.screenshot({ path: join(artifacts, `image-from-iso-${backend}.png`), fullPage: true });
      // Saved as it is, it stays valid; the files inside the ISO are served by path.
      await page.getByRole('button', { name: 'Save image' }).click();
      await page.waitForURL(orgUrl + '/images');
      await page.goto(orgUrl + '/files');
      await hydrated(page);
      const kernelRow = page.getByTestId('file-row').filter({ hasText: 'debian-live-kernel' });
      assert.equal(await kernelRow.getByTestId('file-sha256').getAttribute('data-sha256'),
        createHash('sha256').update(Buffer.alloc(70_000, 1)).digest('hex'));
      const isoHref = await liveRow.getByRole('link', { name: 'debian-live.iso' }).getAttribute('href');
      const inside = await page.request.get(server.baseUrl + isoHref + '/tree/live/filesystem.squashfs');
      assert.equal(inside.status(), 200);
      assert.deepEqual(await inside.body(), Buffer.alloc(10_000, 3));

      // An image boots it, picked from the library beside the ISO field: then it stays.
      await page.goto(orgUrl + '/images/new');
      await hydrated(page);
      await page.fill('#image-title', 'Library disk');
      await page.getByRole('radio', { name: 'ISO' }).check();
      await page.getByLabel('The ISO from the library').selectOption('big-disk.iso');
      assert.equal(await page.inputValue('#image-source'), 'file:big-disk.iso');
      await page.getByRole('button', { name: 'Save image' }).click();
      await page.waitForURL(orgUrl + '/images');
      const image = page.getByTestId('image-row').filter({ hasText: 'Library disk' });
      await page.goto(orgUrl + '/files');
      await hydrated(page);
      await row.getByRole('button', { name: 'Delete the file big-disk.iso' }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Delete file' }).click();
      await page.getByText('big-disk.iso is booted by Library disk', { exact: false }).waitFor();
      // Once the image is gone, so can the file be.
      await page.goto(orgUrl + '/images');
      await hydrated(page);
      await image.getByRole('button', { name: /Delete/ }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Delete image' }).click();
      await image.waitFor({ state: 'detached' });
      await page.goto(orgUrl + '/files');
      await hydrated(page);
      await row.getByRole('button', { name: 'Delete the file big-disk.iso' }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Delete file' }).click();
      await row.waitFor({ state: 'detached' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an organization admin invites an account, whose owner accepts on the dashboard', async () => {
    // The server admin makes alice an admin of the lab and creates dave, who belongs nowhere.
    await page.goto(orgUrl + '/members');
    await hydrated(page);
    await page.getByLabel('Role of alice').selectOption('admin');
    await page.getByText('The role was changed.').waitFor();
    await page.goto(server.baseUrl + '/users');
    await hydrated(page);
    await page.fill('#user-username', 'dave');
    await page.fill('#user-password', DAVE_PASSWORD);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByTestId('user-row').filter({ hasText: 'dave' }).waitFor();
    const admin = await openPage(browser, VIEWPORT);
    const dave = await openPage(browser, VIEWPORT);
    try {
      await signIn(admin.page, server.baseUrl, 'alice', MEMBER_PASSWORD);
      await admin.page.goto(orgUrl + '/members');
      await hydrated(admin.page);
      await admin.page.fill('#add-username', 'dave');
      await admin.page.getByRole('button', { name: 'Send invitation' }).click();
      await admin.page.getByText('Invited dave.', { exact: false }).waitFor();
      await admin.page.getByTestId('invitation-row').filter({ hasText: 'dave' }).waitFor();
      assert.equal(await admin.page.getByTestId('member-row').filter({ hasText: 'dave' }).count(), 0);
      await admin.page.screenshot({ path: join(artifacts, `invited-${backend}.png`), fullPage: true });

      await signIn(dave.page, server.baseUrl, 'dave', DAVE_PASSWORD);
      const invitation = dave.page.getByTestId('my-invitation').filter({ hasText: 'Physics Lab' });
      await invitation.getByText('alice invited you', { exact: false }).waitFor();
      await dave.page.screenshot({ path: join(artifacts, `invitation-${backend}.png`), fullPage: true });
      await invitation.getByRole('button', { name: 'Accept the invitation to Physics Lab' }).click();
      await dave.page.getByText('You joined Physics Lab.').waitFor();
      await dave.page.getByTestId('organization-row').filter({ hasText: 'Physics Lab' }).waitFor();
      await dave.page.getByTestId('my-invitation').waitFor({ state: 'detached' });

      await admin.page.reload();
      await hydrated(admin.page);
      await admin.page.getByTestId('member-row').filter({ hasText: 'dave' }).waitFor();
      assert.equal(await admin.page.getByTestId('invitation-row').count(), 0);
      assert.deepEqual([...admin.problems, ...dave.problems], []);
    } finally {
      await admin.context.close();
      await dave.context.close();
    }
  });

  test('the pages fit a phone screen without sideways scrolling', async () => {
    const phone = await openPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await signIn(phone.page, server.baseUrl, 'admin', server.adminPassword);
      for (const [name, url] of [['menu-editor', menuUrl], ['images', orgUrl + '/images'], ['members', orgUrl + '/members']]) {
        await phone.page.goto(url);
        await hydrated(phone.page);
        await phone.page.screenshot({ path: join(artifacts, `phone-${name}-${backend}.png`), fullPage: true });
        const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
        const wide = await phone.page.evaluate(() =>
          [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > 391 && !e.closest('[aria-label="Organization"], pre'))
            .map((e) => `${e.tagName} ${e.className}`.slice(0, 80)),
        );
        assert.ok(width <= 390, `${name} is ${width}px wide: ${wide.join('; ')}`);
      }
    } finally {
      await phone.context.close();
    }
  });

  test('the browser saw no errors', () => {
    // Refused saves and validation answers (409, 422) are logged by Chromium as failed loads.
    const real = problems.filter((p) => !/\b(409|422)\b/.test(p));
    assert.deepEqual(real, []);
  });
});
