/** TODO(console helper): the loans screen. */
export default function Page() {
  return <h1>loans</h1>;
}
