/** autocannon ships no types; bench/load.ts types the part it uses. */
declare module 'autocannon' {
  const autocannon: unknown;
  export default autocannon;
}
