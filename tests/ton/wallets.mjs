// Wallet cases for crosscheck.test.mjs (filled in with the C wallet module).
export function walletCases() {
    return [];
}
