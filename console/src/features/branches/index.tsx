/** TODO(console helper): the branches screen. */
export default function Page() {
  return <h1>branches</h1>;
}
