/** TODO(console helper): the borrowers screen. */
export default function Page() {
  return <h1>borrowers</h1>;
}
